"""Reference solutions of lesson 06's exercises."""


def exercise_06_1(u, i, r, order, P, Q, bu, bi, mu, lr, reg):
    for t in order:
        uu, ii = u[t], i[t]
        err = r[t] - (mu + bu[uu] + bi[ii] + P[uu] @ Q[ii])
        bu[uu] += lr * (err - reg * bu[uu])
        bi[ii] += lr * (err - reg * bi[ii])
        p_old = P[uu].copy()
        P[uu] += lr * (err * Q[ii] - reg * P[uu])
        Q[ii] += lr * (err * p_old - reg * Q[ii])
    return P, Q, bu, bi
