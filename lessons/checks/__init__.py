"""Checks of the lessons' exercises, one file per lesson (``check_NN_k(fn)``)."""
