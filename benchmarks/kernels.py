"""Benchmark kernels: plain Python over scalars and NumPy arrays, explicit loops only.

Each kernel ``NAME`` has ``NAME_inputs(quick)`` returning ``(args, size)``: the arguments,
built from a fixed seed, and a short description of the problem size. ``quick=True`` gives
small sizes for smoke tests. ``KERNELS`` lists the timed kernels, ``TINY`` the call-overhead
ones. Kernels never modify their arguments.
"""

import math

import numpy as np

# --- 2-D heat equation ----------------------------------------------------------------------


def heat_stencil(u, n_steps, alpha):
    """Explicit 5-point heat-equation steps on a 2-D grid whose edges are held fixed.

    ``u`` is the initial field. Each step computes ``w + alpha * laplacian(w)`` on the interior
    into a scratch array and copies it back (stable for ``alpha <= 0.25``). Returns the sum of
    squares of the final field.
    """
    ny = u.shape[0]
    nx = u.shape[1]
    w = np.zeros((ny, nx))
    scratch = np.zeros((ny, nx))
    for i in range(ny):
        for j in range(nx):
            w[i, j] = u[i, j]
    for _ in range(n_steps):
        for i in range(1, ny - 1):
            for j in range(1, nx - 1):
                lap = w[i - 1, j] + w[i + 1, j] + w[i, j - 1] + w[i, j + 1] - 4.0 * w[i, j]
                scratch[i, j] = w[i, j] + alpha * lap
        for i in range(1, ny - 1):
            for j in range(1, nx - 1):
                w[i, j] = scratch[i, j]
    total = 0.0
    for i in range(ny):
        for j in range(nx):
            total += w[i, j] * w[i, j]
    return total


def heat_stencil_inputs(quick=False):
    n, n_steps = (48, 20) if quick else (256, 400)
    u = np.random.default_rng(0).uniform(0.0, 1.0, (n, n))
    return (u, n_steps, 0.2), f"{n}x{n} grid, {n_steps} steps"


# --- Gaussian mixture model objective (ADBench) ---------------------------------------------


def logsumexp(v):
    """``log(sum(exp(v)))`` of a 1-D array, shifted by its maximum."""
    mx = v[0]
    for i in range(1, v.shape[0]):
        if v[i] > mx:
            mx = v[i]
    s = 0.0
    for i in range(v.shape[0]):
        s += math.exp(v[i] - mx)
    return math.log(s) + mx


def log_gamma_distrib(a, p):
    """Log of the multivariate gamma function ``Gamma_p(a)``."""
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out += math.lgamma(a + 0.5 * (1 - j))
    return out


def log_wishart_prior(qdiags, sum_qs, icf, wishart_gamma, wishart_m):
    """ADBench's log Wishart prior on the K precision factors."""
    k = qdiags.shape[0]
    p = qdiags.shape[1]
    n = p + wishart_m + 1
    c = n * p * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_distrib(0.5 * n, p)
    out = 0.0
    for ik in range(k):
        frobenius = 0.0
        for j in range(p):
            frobenius += qdiags[ik, j] * qdiags[ik, j]
        for j in range(p, icf.shape[1]):
            frobenius += icf[ik, j] * icf[ik, j]
        out += 0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs[ik]
    return out - k * c


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    """Log-posterior of a K-component Gaussian mixture, as in ADBench (Srajer et al. 2018).

    ``alphas`` (K,) are unnormalized log weights, ``means`` (K, d), ``x`` (n, d) the points.
    Row k of ``icf`` (K, d(d+1)/2) holds the log-diagonal of the lower-triangular precision
    factor Q_k, then its strictly lower part column by column. Returns
    ``sum_i logsumexp_k(alpha_k + sum(log diag Q_k) - |Q_k (x_i - mu_k)|^2 / 2)
    - n logsumexp(alpha) - n d log(2 pi) / 2 + log_wishart_prior``.

    Written the way one writes it for SIMD: the parameters are copied component-last, so the
    innermost loops run over the K components with unit stride; ``x_i - mu_k`` is recomputed
    where it is needed rather than stored.
    """
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    m = icf.shape[1]
    qdiags = np.zeros((k, d))
    sum_qs = np.zeros(k)
    mu = np.zeros((d, k))
    qd = np.zeros((d, k))
    lower = np.zeros((m, k))
    base = np.zeros(k)
    for ik in range(k):
        for j in range(d):
            sum_qs[ik] += icf[ik, j]
            qdiags[ik, j] = math.exp(icf[ik, j])
            qd[j, ik] = qdiags[ik, j]
            mu[j, ik] = means[ik, j]
        for p in range(d, m):
            lower[p, ik] = icf[ik, p]
        base[ik] = alphas[ik] + sum_qs[ik]
    qxc = np.zeros((d, k))
    main_term = np.zeros(k)
    slse = 0.0
    for ix in range(n):
        for j in range(d):
            xj = x[ix, j]
            for ik in range(k):
                qxc[j, ik] = qd[j, ik] * (xj - mu[j, ik])
        idx = d
        for i in range(d):
            xi = x[ix, i]
            for j in range(i + 1, d):
                for ik in range(k):
                    qxc[j, ik] += lower[idx, ik] * (xi - mu[i, ik])
                idx += 1
        for ik in range(k):
            main_term[ik] = base[ik]
        for j in range(d):
            for ik in range(k):
                main_term[ik] -= 0.5 * qxc[j, ik] * qxc[j, ik]
        slse += logsumexp(main_term)
    constant = -0.5 * n * d * math.log(2.0 * math.pi)
    prior = log_wishart_prior(qdiags, sum_qs, icf, wishart_gamma, wishart_m)
    return constant + slse - n * logsumexp(alphas) + prior


def gmm_objective_inputs(quick=False):
    n, d, k = (100, 4, 5) if quick else (1000, 10, 25)
    rng = np.random.default_rng(1)
    alphas = rng.normal(0.0, 1.0, k)
    means = rng.uniform(0.0, 1.0, (k, d))
    icf = rng.normal(0.0, 0.5, (k, d * (d + 1) // 2))
    x = rng.normal(0.0, 1.0, (n, d))
    return (alphas, means, icf, x, 1.0, 0), f"n={n}, d={d}, K={k}"


# --- Lorenz-96 ------------------------------------------------------------------------------


def lorenz96_rhs(x, forcing, out):
    """``out[j] = (x[j+1] - x[j-2]) * x[j-1] - x[j] + forcing``, indices periodic."""
    n = x.shape[0]
    for j in range(n):
        jp1 = j + 1
        if jp1 == n:
            jp1 = 0
        jm1 = j - 1
        if jm1 < 0:
            jm1 += n
        jm2 = j - 2
        if jm2 < 0:
            jm2 += n
        out[j] = (x[jp1] - x[jm2]) * x[jm1] - x[j] + forcing


def lorenz96_loss(x0, forcing, dt, n_steps):
    """Lorenz-96 from ``x0`` with Heun's method (RK2); returns the mean of ``x_j(t)^2``
    over all variables and steps."""
    n = x0.shape[0]
    x = np.zeros(n)
    xt = np.zeros(n)
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    for j in range(n):
        x[j] = x0[j]
    total = 0.0
    for _ in range(n_steps):
        lorenz96_rhs(x, forcing, k1)
        for j in range(n):
            xt[j] = x[j] + dt * k1[j]
        lorenz96_rhs(xt, forcing, k2)
        for j in range(n):
            x[j] = x[j] + 0.5 * dt * (k1[j] + k2[j])
            total += x[j] * x[j]
    return total / (n_steps * n)


def lorenz96_loss_inputs(quick=False):
    n, n_steps = (40, 200) if quick else (100, 5000)
    x0 = 8.0 + np.random.default_rng(2).normal(0.0, 1.0, n)
    return (x0, 8.0, 0.0004, n_steps), f"N={n}, {n_steps} steps"


# --- Van der Pol oscillator, RK4 ------------------------------------------------------------


def vanderpol_accel(x, v, mu):
    """Acceleration of the Van der Pol oscillator."""
    return mu * (1.0 - x * x) * v - x


def vanderpol_rk4(x0, v0, mu, dt, n_steps):
    """Classical RK4 on ``x'' = mu (1 - x^2) x' - x`` with scalars only (a while loop);
    returns ``dt * sum_t x(t)^2``."""
    x = x0
    v = v0
    total = 0.0
    step = 0
    while step < n_steps:
        a1 = vanderpol_accel(x, v, mu)
        x2 = x + 0.5 * dt * v
        v2 = v + 0.5 * dt * a1
        a2 = vanderpol_accel(x2, v2, mu)
        x3 = x + 0.5 * dt * v2
        v3 = v + 0.5 * dt * a2
        a3 = vanderpol_accel(x3, v3, mu)
        x4 = x + dt * v3
        v4 = v + dt * a3
        a4 = vanderpol_accel(x4, v4, mu)
        x = x + dt / 6.0 * (v + 2.0 * v2 + 2.0 * v3 + v4)
        v = v + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        total += x * x
        step += 1
    return dt * total


def vanderpol_rk4_inputs(quick=False):
    n_steps = 1000 if quick else 200_000
    return (1.5, 0.0, 2.0, 0.001, n_steps), f"{n_steps} steps"


# --- LSTM (ADBench) -------------------------------------------------------------------------


def sigmoid(x):
    """The logistic function."""
    return 1.0 / (1.0 + math.exp(-x))


def lstm_objective(main_params, extra_params, state, sequence):
    """ADBench's LSTM loss (Srajer et al. 2018): a stack of LSTM layers with elementwise
    weights reads a ``sequence`` (c, b) of b-vectors and predicts each next row; returns the
    negative mean log-likelihood.

    Rows 2i and 2i+1 of ``main_params`` (2l, 4b) are layer i's weights and biases for the
    forget, input, output gates and the candidate cell, b each. ``extra_params`` (3, b) are
    the input scale, output scale and output bias; ``state`` (2l, b) holds each layer's
    initial hidden and cell values.
    """
    n_layers = main_params.shape[0] // 2
    b = sequence.shape[1]
    hidden = np.zeros((n_layers, b))
    cell = np.zeros((n_layers, b))
    for i in range(n_layers):
        for j in range(b):
            hidden[i, j] = state[2 * i, j]
            cell[i, j] = state[2 * i + 1, j]
    x = np.zeros(b)
    ypred = np.zeros(b)
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        for j in range(b):
            x[j] = sequence[t, j] * extra_params[0, j]
        for i in range(n_layers):
            w = 2 * i
            for j in range(b):
                forget = sigmoid(x[j] * main_params[w, j] + main_params[w + 1, j])
                ingate = sigmoid(hidden[i, j] * main_params[w, b + j] + main_params[w + 1, b + j])
                outgate = sigmoid(x[j] * main_params[w, 2 * b + j] + main_params[w + 1, 2 * b + j])
                change = math.tanh(
                    hidden[i, j] * main_params[w, 3 * b + j] + main_params[w + 1, 3 * b + j]
                )
                c = cell[i, j] * forget + ingate * change
                cell[i, j] = c
                hidden[i, j] = outgate * math.tanh(c)
                x[j] = hidden[i, j]
        norm = 0.0
        for j in range(b):
            ypred[j] = x[j] * extra_params[1, j] + extra_params[2, j]
            norm += math.exp(ypred[j])
        lognorm = math.log(norm + 2.0)
        for j in range(b):
            total += sequence[t + 1, j] * (ypred[j] - lognorm)
    return -total / ((sequence.shape[0] - 1) * b)


def lstm_objective_inputs(quick=False):
    n_layers, c, b = (2, 20, 8) if quick else (2, 1024, 32)
    rng = np.random.default_rng(3)
    main_params = rng.normal(0.0, 0.5, (2 * n_layers, 4 * b))
    extra_params = rng.normal(0.0, 0.5, (3, b))
    state = rng.normal(0.0, 0.5, (2 * n_layers, b))
    sequence = rng.uniform(0.0, 1.0, (c, b))
    return (main_params, extra_params, state, sequence), f"l={n_layers}, c={c}, b={b}"


# --- Tiny kernels for call overhead ---------------------------------------------------------


def add2(a, b):
    """Sum of two floats."""
    return a + b


def add2_inputs(quick=False):
    return (1.5, 2.25), "2 floats"


def sum3(x, y, z):
    """Sum of the elements of three equally long 1-D arrays."""
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i] + y[i] + z[i]
    return total


def sum3_inputs(quick=False):
    rng = np.random.default_rng(3)
    return tuple(rng.normal(0.0, 1.0, 8) for _ in range(3)), "3 arrays of 8"


KERNELS = {
    "heat_stencil": heat_stencil_inputs,
    "gmm_objective": gmm_objective_inputs,
    "lorenz96_loss": lorenz96_loss_inputs,
    "vanderpol_rk4": vanderpol_rk4_inputs,
    "lstm_objective": lstm_objective_inputs,
}

TINY = {"add2": add2_inputs, "sum3": sum3_inputs}
