"""Reference solutions of lesson 05's exercises."""

import numpy as np


def exercise_05_1(C):
    tf = C / np.maximum(C.sum(axis=1, keepdims=True), 1e-12)
    idf = np.log(len(C) / np.maximum((C > 0).sum(axis=0), 1))
    W = tf * idf
    return W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)


def exercise_05_2(vc, uo, U):
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    sp, sn = sigmoid(uo @ vc), sigmoid(U @ vc)
    loss = -np.log(sp) - np.log(1 - sn).sum()
    return loss, (sp - 1) * uo + sn @ U
