"""Reference solutions of the lessons' exercises, one file per lesson (``exercise_NN_k``)."""
