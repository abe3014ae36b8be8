"""Differential tests: minirec against independent implementations (PyTorch for the
autograd, nn and optim; scikit-learn / pytrec_eval for the metrics)."""
