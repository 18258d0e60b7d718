"""JIT-compile a plain Python heat-equation kernel with cofactor and print the result."""

import math

import numpy as np

import cofactor


def laplacian(u, i):
    return u[i - 1] - 2.0 * u[i] + u[i + 1]


@cofactor.jit
def heat(u, steps, alpha):
    """Explicit 1-D heat equation with fixed ends; returns the final energy."""
    n = u.shape[0]
    tmp = np.zeros(n)
    for _ in range(steps):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * laplacian(u, i)
        for i in range(1, n - 1):
            u[i] = tmp[i]
    energy = 0.0
    for i in range(n):
        energy += u[i] * u[i]
    return math.sqrt(energy)


if __name__ == "__main__":
    u = np.sin(np.linspace(0.0, math.pi, 1000))
    print("energy after 500 steps:", heat(u, 500, 0.25))
    print("specializations:", [", ".join(map(str, s)) for s in heat.signatures])
