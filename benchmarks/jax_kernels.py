"""JAX versions of the kernels in ``kernels.py``, written the idiomatic way: whole-array
``jax.numpy`` inside ``lax.fori_loop`` / ``lax.scan``. Same signatures and results (float64).

Time-step counts (``n_steps``) must be static under ``jax.jit``; see ``STATIC_ARGNUMS``.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import gammaln
from jax.scipy.special import logsumexp as lse

jax.config.update("jax_enable_x64", True)


def heat_stencil(u, n_steps, alpha):
    def step(_, w):
        c = w[1:-1, 1:-1]
        lap = w[:-2, 1:-1] + w[2:, 1:-1] + w[1:-1, :-2] + w[1:-1, 2:] - 4.0 * c
        return w.at[1:-1, 1:-1].set(c + alpha * lap)

    w = lax.fori_loop(0, n_steps, step, u)
    return jnp.sum(w * w)


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    n, d = x.shape
    k = alphas.shape[0]
    qs = icf[:, :d]
    qdiags = jnp.exp(qs)
    sum_qs = jnp.sum(qs, axis=1)
    # Strictly lower part of Q, packed column by column (row j > column i).
    cols, rows = np.triu_indices(d, 1)
    lower = jnp.zeros((k, d, d), icf.dtype).at[:, rows, cols].set(icf[:, d:])
    xc = x[:, None, :] - means[None, :, :]
    qxc = qdiags[None] * xc + jnp.einsum("kij,nkj->nki", lower, xc)
    main_term = alphas + sum_qs - 0.5 * jnp.sum(qxc * qxc, axis=2)
    slse = jnp.sum(lse(main_term, axis=1))
    constant = -0.5 * n * d * np.log(2.0 * np.pi)
    # Wishart prior
    nw = d + wishart_m + 1
    log_gamma = 0.25 * d * (d - 1) * np.log(np.pi) + jnp.sum(
        gammaln(0.5 * nw + 0.5 * (1 - jnp.arange(1, d + 1)))
    )
    c = nw * d * (jnp.log(wishart_gamma) - 0.5 * np.log(2.0)) - log_gamma
    frobenius = jnp.sum(qdiags * qdiags) + jnp.sum(icf[:, d:] ** 2)
    prior = 0.5 * wishart_gamma**2 * frobenius - wishart_m * jnp.sum(sum_qs) - k * c
    return constant + slse - n * lse(alphas) + prior


def lorenz96_rhs(x, forcing):
    return (jnp.roll(x, -1) - jnp.roll(x, 2)) * jnp.roll(x, 1) - x + forcing


def lorenz96_loss(x0, forcing, dt, n_steps):
    def step(carry, _):
        x, total = carry
        k1 = lorenz96_rhs(x, forcing)
        k2 = lorenz96_rhs(x + dt * k1, forcing)
        x = x + 0.5 * dt * (k1 + k2)
        return (x, total + jnp.sum(x * x)), None

    (_, total), _ = lax.scan(step, (x0, jnp.zeros((), x0.dtype)), None, length=n_steps)
    return total / (n_steps * x0.shape[0])


def vanderpol_rk4(x0, v0, mu, dt, n_steps):
    def accel(x, v):
        return mu * (1.0 - x * x) * v - x

    def step(carry, _):
        x, v, total = carry
        a1 = accel(x, v)
        x2, v2 = x + 0.5 * dt * v, v + 0.5 * dt * a1
        a2 = accel(x2, v2)
        x3, v3 = x + 0.5 * dt * v2, v + 0.5 * dt * a2
        a3 = accel(x3, v3)
        x4, v4 = x + dt * v3, v + dt * a3
        a4 = accel(x4, v4)
        x = x + dt / 6.0 * (v + 2.0 * v2 + 2.0 * v3 + v4)
        v = v + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        return (x, v, total + x * x), None

    init = (jnp.asarray(x0, jnp.float64), jnp.asarray(v0, jnp.float64), jnp.float64(0.0))
    (_, _, total), _ = lax.scan(step, init, None, length=n_steps)
    return dt * total


def lstm_objective(main_params, extra_params, state, sequence):
    n_layers = main_params.shape[0] // 2
    b = sequence.shape[1]

    def step(carry, rows):
        hidden, cell, total = carry
        now, after = rows
        x = now * extra_params[0]
        hs, cs = [], []
        for i in range(n_layers):
            w, bias = main_params[2 * i], main_params[2 * i + 1]
            forget = jax.nn.sigmoid(x * w[:b] + bias[:b])
            ingate = jax.nn.sigmoid(hidden[i] * w[b:2 * b] + bias[b:2 * b])
            outgate = jax.nn.sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
            change = jnp.tanh(hidden[i] * w[3 * b:] + bias[3 * b:])
            c = cell[i] * forget + ingate * change
            x = outgate * jnp.tanh(c)
            hs.append(x)
            cs.append(c)
        ypred = x * extra_params[1] + extra_params[2]
        ynorm = ypred - jnp.log(jnp.sum(jnp.exp(ypred)) + 2.0)
        return (jnp.stack(hs), jnp.stack(cs), total + jnp.sum(after * ynorm)), None

    init = (state[0::2], state[1::2], jnp.zeros((), sequence.dtype))
    (_, _, total), _ = lax.scan(step, init, (sequence[:-1], sequence[1:]))
    return -total / ((sequence.shape[0] - 1) * b)


def add2(a, b):
    return a + b


def sum3(x, y, z):
    return jnp.sum(x + y + z)


STATIC_ARGNUMS = {
    "heat_stencil": (1,),
    "gmm_objective": (),
    "lorenz96_loss": (3,),
    "vanderpol_rk4": (4,),
    "lstm_objective": (),
    "add2": (),
    "sum3": (),
}
