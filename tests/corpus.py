"""A corpus of plain Python numeric functions that cofactor must compile exactly.

Every function here is module-level and undecorated: the tests compile it with
`cofactor.jit` and compare against CPython running the very same function.
`CASES` pairs each public function with an argument generator: `make_args(rng)`
returns a fresh tuple of arguments, drawn from a `numpy.random.Generator`.
Calling a generator twice with equally seeded generators gives equal but
independent arguments (same values, same memory layout), which is how the tests
feed CPython and the compiled code identical inputs while checking in-place
mutation.

Inputs stay clear of cofactor's documented differences from CPython (64-bit
integer overflow, float division by zero, math domain errors): those have their
own tests.

Helpers whose names start with an underscore are only called by other corpus
functions; they are compiled through those calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Module-level numeric constants, read by compiled code as compile-time values.
SCALE = 2.5
OFFSET = -0.75
N_TERMS = 4
GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0


# ---------------------------------------------------------------------------
# Integer algorithms


def gcd(a, b):
    while b != 0:
        a, b = b, a % b
    return abs(a)


def lcm(a, b):
    if a == 0 or b == 0:
        return 0
    return abs(a * b) // gcd(a, b)


def collatz_steps(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def is_prime(n):
    if n < 2:
        return False
    if n < 4:
        return True
    if n % 2 == 0:
        return False
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes_below(n):
    count = 0
    for k in range(2, n):
        prime = True
        for d in range(2, k):
            if d * d > k:
                break
            if k % d == 0:
                prime = False
                break
        if prime:
            count += 1
    return count


def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def factorial(n):
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result


def isqrt_newton(n):
    if n < 2:
        return n
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def digit_sum(n):
    n = abs(n)
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total


def reverse_digits(n):
    sign = -1 if n < 0 else 1
    n = abs(n)
    result = 0
    while n:
        result = result * 10 + n % 10
        n = n // 10
    return sign * result


def int_floor_ops(a, b):
    return a // b, a % b, -a // b, a % -b, (a + 7) // -b


def binomial(n, k):
    if k < 0 or k > n:
        return 0
    k = min(k, n - k)
    result = 1
    for i in range(1, k + 1):
        result = result * (n - k + i) // i
    return result


def power_mod(base, exponent, modulus):
    result = 1
    base = base % modulus
    while exponent > 0:
        if exponent % 2 == 1:
            result = result * base % modulus
        base = base * base % modulus
        exponent //= 2
    return result


def lcg_sum(seed, n):
    x = seed
    total = 0
    for _ in range(n):
        x = (1103515245 * x + 12345) % 2147483648
        total += x % 1000
    return total


def count_divisors(n):
    count = 0
    d = 1
    while d * d <= n:
        if n % d == 0:
            count += 1 if d * d == n else 2
        d += 1
    return count


def sum_range_steps(a, b, c):
    total = 0
    count = 0
    for i in range(a, b, c):
        total += i
        count += 1
    return total, count


def sum_range_variants(n):
    total = 0
    for i in range(n):
        total += i
    for i in range(3, n):
        total -= i
    for i in range(n, -n, -3):
        total += 2 * i
    for i in range(-n, n, 4):
        total += i * i
    return total


def nested_continue(n):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            continue
        for j in range(i):
            if (i + j) % 2 == 0:
                continue
            total += i * j
    return total


def break_in_nested(n, limit):
    total = 0
    rows = 0
    for i in range(n):
        for j in range(n):
            if j > i:
                break
            total += i + j
        rows += 1
        if total > limit:
            break
    return total, rows


def triangle_kind(a, b, c):
    if a + b <= c or a + c <= b or b + c <= a:
        return 0
    elif a == b == c:
        return 3
    elif a == b or b == c or a == c:
        return 2
    else:
        return 1


def leap_year(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def bit_ops(a, b):
    return a & b, a | b, a ^ b, a << 3, a >> 2, ~a


def int_pow(a, e):
    return a ** e


def pow_negative_constant(a):
    return a ** -2 + 3 * a ** -1


def int_true_division(a, b):
    return a / b, (a + b) / 2, 7 / b


def augmented_ops(a, b):
    x = a
    x += b
    x -= 3
    x *= 2
    x //= b
    x %= 7
    x **= 2
    y = float(a)
    y /= b
    y += x
    return x, y


def loop_variable_after_loop(n):
    odd = 0
    for i in range(n):
        odd += i % 2
    return i * 2 + odd


def while_true_break(n):
    i = 0
    while True:
        i += 1
        if i * i > n:
            break
    return i


def while_continue(n):
    i = 0
    odd_sum = 0
    while i < n:
        i += 1
        if i % 2 == 0:
            continue
        odd_sum += i
    return odd_sum


# ---------------------------------------------------------------------------
# Float scalars and control flow


def horner_scalar(x):
    return ((((3.0 * x - 2.0) * x + 0.5) * x - 7.25) * x + 1.0) * x - 4.0


def newton_sqrt(a):
    x = a if a > 1.0 else 1.0
    iterations = 0
    while iterations < 100:
        nxt = 0.5 * (x + a / x)
        iterations += 1
        if abs(nxt - x) <= 1e-15 * nxt:
            x = nxt
            break
        x = nxt
    return x, iterations


def newton_cube_root(a):
    x = 1.0 if abs(a) < 1.0 else a
    for _ in range(200):
        fx = x * x * x - a
        if abs(fx) < 1e-12 * (1.0 + abs(a)):
            return x
        x = x - fx / (3.0 * x * x)
    return x


def _cubic(x):
    return x * x * x - 2.0 * x - 5.0


def bisect_root(lo, hi):
    f_lo = _cubic(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f_mid = _cubic(mid)
        if f_mid == 0.0 or hi - lo < 1e-14:
            break
        if (f_mid < 0.0) == (f_lo < 0.0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def float_floor_ops(x, y):
    return x // y, x % y, -x // y, x % -y, (x + 0.5) // -y


def mixed_promotion(n, x):
    acc = 0
    for i in range(n):
        acc += i
    return acc + x / 2, acc * x, n / 4, acc - n // 3


def int_becomes_float_in_loop(n):
    acc = 0
    for i in range(n):
        acc += 0.5 * i
    return acc


def sign_function(x):
    if x > 0:
        return 1.0
    elif x < 0:
        return -1.0
    else:
        return 0.0


def clamp(x, lo, hi):
    return min(max(x, lo), hi)


def chained_compare(a, b, c):
    return a < b < c, a <= b >= c, a == b != c, not a < b


def logic_ops(a, b):
    return (a > 0 and b > 0) or not (a < b)


def short_circuit_values(a, b):
    return a and b, a or b, not a, (a or b) and 7


def conditional_expr(x):
    return -1.0 if x < -1.0 else (x * x if x < 1.0 else 2.0 * x - 1.0)


def abs_min_max(a, b, c):
    return abs(a) + max(a, b, c) - min(a, b) + max(abs(b), c) - min(a, b, c, 0.5)


def conversions(x):
    return int(x), float(int(x)), bool(x), round(x), int(-x), bool(int(x))


def round_half_even(k):
    x = k + 0.5
    return round(x), round(-x), round(x * 0.25)


def float_pow(x, y):
    return x ** y, x ** 0.5, x ** -1.5, math.pow(x, y)


def pow_int_exponent(x, n):
    return x ** n, x ** 2, x ** 3, x ** -2


def trig_identities(x):
    s = math.sin(x)
    c = math.cos(x)
    return s * s + c * c, math.tan(x), math.sin(2.0 * x) - 2.0 * s * c


def inverse_trig(t):
    return math.asin(t), math.acos(t), math.atan(t), math.atan2(t, 1.0 - t)


def hyperbolic(x):
    t = x / (1.0 + abs(x))
    return (math.sinh(x), math.cosh(x), math.tanh(x), math.asinh(x),
            math.acosh(1.0 + abs(x)), math.atanh(t))


def exp_log_family(x):
    return (math.exp(-x), math.expm1(x / 10.0), math.log(x), math.log1p(x), math.log2(x),
            math.log10(x), math.log(x, 3.0))


def misc_math(x, y):
    return (math.hypot(x, y), math.copysign(x, y), math.fmod(x, y), math.fabs(y),
            math.floor(x), math.ceil(y), math.pow(abs(x), 0.3), math.sqrt(abs(y)))


def math_constants(x):
    return x * math.pi + math.e, min(x, math.inf), max(x, -math.inf), math.isnan(math.nan)


def special_value_checks(x):
    return math.isnan(x), math.isinf(x), math.isfinite(x), x != x, x == math.inf


def numpy_scalar_functions(x):
    return (np.sin(x) + np.cos(x) * np.tan(x / 4.0), np.exp(-x * x) + np.sqrt(abs(x)),
            np.arctan(x) + np.log1p(abs(x)) + np.tanh(x), np.arctan2(x, 2.0))


def module_constants(x):
    total = 0.0
    for k in range(N_TERMS):
        total += SCALE * x ** k + OFFSET
    return total * GOLDEN


def logistic_map(r, x0, n):
    x = x0
    for _ in range(n):
        x = r * x * (1.0 - x)
    return x


def mandelbrot_escape(cx, cy, max_iter):
    zx = 0.0
    zy = 0.0
    k = 0
    while k < max_iter and zx * zx + zy * zy <= 4.0:
        zx, zy = zx * zx - zy * zy + cx, 2.0 * zx * zy + cy
        k += 1
    return k


def _gaussian(x):
    return math.exp(-x * x)


def trapezoid_integral(a, b, n):
    h = (b - a) / n
    total = 0.5 * (_gaussian(a) + _gaussian(b))
    for i in range(1, n):
        total += _gaussian(a + i * h)
    return total * h


def _simpson_weight(i, n):
    if i == 0 or i == n:
        return 1.0
    return 4.0 if i % 2 == 1 else 2.0


def simpson_integral(a, b, n):
    h = (b - a) / n
    total = 0.0
    for i in range(n + 1):
        total += _simpson_weight(i, n) * _gaussian(a + i * h)
    return total * h / 3.0


def _decay(y, k):
    return -k * y


def rk4_decay(y0, k, h, steps):
    y = y0
    for _ in range(steps):
        k1 = _decay(y, k)
        k2 = _decay(y + 0.5 * h * k1, k)
        k3 = _decay(y + 0.5 * h * k2, k)
        k4 = _decay(y + h * k3, k)
        y += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def _poly3(x, a=1.0, b=0.0, c=0.0):
    return (a * x + b) * x + c


def keyword_helpers(x, y):
    return _poly3(x, c=y) + _poly3(y, 2.0, b=-x) + _poly3(x) + _poly3(c=1.0, x=y, a=-0.5)


def _inner(x):
    return 2.0 * x + 1.0


def _middle(x, scale=3.0):
    return _inner(x) * scale - _inner(-x)


def helper_chain(x):
    return _middle(x) + _middle(x, scale=0.5) + _inner(_inner(x))


def _floor_divmod(a, b):
    return a // b, a % b


def tuple_returns(a, b):
    q, r = _floor_divmod(a, b)
    s, d = a + b, a - b
    return q * b + r == a, s, d, q


def int_and_float_helper(n, x):
    return _poly3(n, 2, 1, 3), _poly3(x, 2, 1, 3), _poly3(n, a=0.5)


def bool_argument(flag, x):
    if flag:
        return x * 2.0
    return x - 1.0


def assert_and_pass(n):
    assert n >= 0, "n must be non-negative"
    total = 0
    for i in range(n):
        if i % 2 == 0:
            pass
        else:
            total += i
    assert total >= 0
    return total


def return_in_while(n):
    k = 0
    while k < 1000:
        if k * k >= n:
            return k
        k += 1
    return -1


def float32_scalar(x):
    return x * 2 + 1, x * x, -x


# ---------------------------------------------------------------------------
# One-dimensional arrays


def array_sum(x):
    total = 0.0
    for v in x:
        total += v
    return total


def mean_variance(x):
    n = len(x)
    mean = 0.0
    for i in range(n):
        mean += x[i]
    mean /= n
    var = 0.0
    for i in range(n):
        d = x[i] - mean
        var += d * d
    return mean, var / n


def dot(x, y):
    total = 0.0
    for i in range(len(x)):
        total += x[i] * y[i]
    return total


def norm2(x):
    total = 0.0
    for v in x:
        total += v * v
    return math.sqrt(total)


def argmax(x):
    best = 0
    for i in range(1, x.shape[0]):
        if x[i] > x[best]:
            best = i
    return best


def min_max_index(x):
    lo = x[0]
    hi = x[0]
    i_lo = 0
    i_hi = 0
    for i in range(1, x.size):
        if x[i] < lo:
            lo = x[i]
            i_lo = i
        elif x[i] > hi:
            hi = x[i]
            i_hi = i
    return lo, i_lo, hi, i_hi


def prefix_sum_inplace(x):
    for i in range(1, len(x)):
        x[i] += x[i - 1]


def reverse_inplace(x):
    i = 0
    j = len(x) - 1
    while i < j:
        x[i], x[j] = x[j], x[i]
        i += 1
        j -= 1
    return x[0]


def scale_shift_inplace(x, a, b):
    for i in range(len(x)):
        x[i] *= a
        x[i] += b
        x[i] -= 0.25
        x[i] /= 2.0


def stencil_3pt(x):
    y = np.zeros_like(x)
    for i in range(1, len(x) - 1):
        y[i] = x[i - 1] - 2.0 * x[i] + x[i + 1]
    return y


def periodic_stencil(x):
    n = len(x)
    y = np.empty(n)
    for i in range(n):
        y[i] = 0.25 * x[i - 1] + 0.5 * x[i] + 0.25 * x[(i + 1) % n]
    return y


def horner_array(coeffs, x):
    result = 0.0
    for c in coeffs:
        result = result * x + c
    return result


def poly_derivative_eval(coeffs, x):
    n = len(coeffs)
    result = 0.0
    for i in range(n - 1):
        result = result * x + coeffs[i] * (n - 1 - i)
    return result


def running_max(x):
    out = np.empty(len(x))
    current = -math.inf
    for i in range(len(x)):
        current = max(current, x[i])
        out[i] = current
    return out


def cumulative_product(x):
    out = np.ones(len(x))
    acc = 1.0
    for i in range(len(x)):
        acc *= x[i]
        out[i] = acc
    return out


def first_index_above(x, threshold):
    for i in range(len(x)):
        if x[i] > threshold:
            return i
    return -1


def is_sorted(x):
    for i in range(1, len(x)):
        if x[i - 1] > x[i]:
            return False
    return True


def binary_search(x, value):
    lo = 0
    hi = len(x)
    while lo < hi:
        mid = (lo + hi) // 2
        if x[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def bubble_sort_inplace(x):
    n = len(x)
    swaps = 0
    for i in range(n):
        swapped = False
        for j in range(n - 1 - i):
            if x[j] > x[j + 1]:
                x[j], x[j + 1] = x[j + 1], x[j]
                swapped = True
                swaps += 1
        if not swapped:
            break
    return swaps


def insertion_sort_inplace(x):
    for i in range(1, len(x)):
        key = x[i]
        j = i - 1
        while j >= 0 and x[j] > key:
            x[j + 1] = x[j]
            j -= 1
        x[j + 1] = key


def kahan_sum(x):
    total = 0.0
    compensation = 0.0
    for v in x:
        y = v - compensation
        t = total + y
        compensation = (t - total) - y
        total = t
    return total


def softmax(x):
    n = len(x)
    top = x[0]
    for i in range(1, n):
        top = max(top, x[i])
    out = np.empty_like(x)
    total = 0.0
    for i in range(n):
        out[i] = math.exp(x[i] - top)
        total += out[i]
    for i in range(n):
        out[i] /= total
    return out


def logsumexp(x):
    top = -math.inf
    for v in x:
        if v > top:
            top = v
    total = 0.0
    for v in x:
        total += math.exp(v - top)
    return top + math.log(total)


def sigmoid_array(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = 1.0 / (1.0 + math.exp(-x[i]))
    return out


def relu_inplace(x):
    count = 0
    for i in range(len(x)):
        if x[i] < 0.0:
            x[i] = 0.0
            count += 1
    return count


def count_sign_changes(x):
    changes = 0
    for i in range(1, len(x)):
        if (x[i - 1] < 0.0) != (x[i] < 0.0):
            changes += 1
    return changes


def convolve_valid(x, k):
    n = len(x)
    m = len(k)
    out = np.zeros(n - m + 1)
    for i in range(n - m + 1):
        acc = 0.0
        for j in range(m):
            acc += x[i + j] * k[m - 1 - j]
        out[i] = acc
    return out


def histogram(x, nbins, lo, hi):
    counts = np.zeros(nbins, dtype=np.int64)
    width = (hi - lo) / nbins
    for v in x:
        if v < lo or v >= hi:
            continue
        b = int((v - lo) / width)
        if b >= nbins:
            b = nbins - 1
        counts[b] += 1
    return counts


def nan_safe_sum(x):
    total = 0.0
    skipped = 0
    for v in x:
        if math.isnan(v):
            skipped += 1
            continue
        total += v
    return total, skipped


def negative_indices(x):
    n = len(x)
    return x[-1] + 2.0 * x[-2] - x[-n], x[n - 1] == x[-1]


def pascal_row(n):
    row = np.zeros(n + 1, dtype=np.int64)
    row[0] = 1
    for i in range(1, n + 1):
        for j in range(i, 0, -1):
            row[j] += row[j - 1]
    return row


def sieve(n):
    flags = np.ones(n + 1, dtype=np.bool_)
    flags[0] = False
    flags[1] = False
    p = 2
    while p * p <= n:
        if flags[p]:
            for m in range(p * p, n + 1, p):
                flags[m] = False
        p += 1
    return flags


def threshold_mask(x, t):
    mask = np.zeros(len(x), dtype=bool)
    for i in range(len(x)):
        mask[i] = x[i] > t
    return mask


def count_true(mask):
    count = 0
    for m in mask:
        if m:
            count += 1
    return count


def masked_mean(x, mask):
    total = 0.0
    n = 0
    for i in range(len(x)):
        if mask[i]:
            total += x[i]
            n += 1
    if n == 0:
        return 0.0
    return total / n


def int_array_stats(a):
    total = 0
    squares = 0
    floors = 0
    mods = 0
    for i in range(len(a)):
        total += a[i]
        squares += a[i] * a[i]
        floors += a[i] // 3
        mods += a[i] % 5
    return total, squares, floors, mods


def int_array_inplace(a):
    for i in range(len(a)):
        if a[i] % 2 == 0:
            a[i] //= 2
        else:
            a[i] = 3 * a[i] + 1
    return a[0]


def float32_dot(x, y):
    total = 0.0
    for i in range(len(x)):
        total += x[i] * y[i]
    return total


def float32_scale(x):
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = x[i] * 0.5
    return out


def full_and_like(x):
    n = len(x)
    a = np.full(n, 2.5)
    b = np.full_like(x, -1.0)
    c = np.ones_like(x)
    d = np.zeros(n, dtype=np.float64)
    for i in range(n):
        d[i] = a[i] * x[i] + b[i] - c[i]
    return d


def empty_then_fill(n):
    out = np.empty(n)
    for i in range(n):
        out[i] = i * i - 0.5
    return out


def arrays_of_every_dtype(n):
    f = np.zeros(n, dtype=np.float64)
    g = np.full(n, 1.5, dtype=np.float32)
    k = np.ones(n, dtype=np.int64)
    b = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        f[i] = 0.5 * i
        g[i] += i
        k[i] = i * i
        b[i] = i % 3 == 0
    return f, g, k, b


def tuple_of_arrays(x):
    positive = np.zeros_like(x)
    negative = np.zeros_like(x)
    count = 0
    for i in range(len(x)):
        if x[i] > 0.0:
            positive[i] = x[i]
            count += 1
        else:
            negative[i] = x[i]
    return positive, negative, count


def _fill_squares(out):
    for i in range(len(out)):
        out[i] = i * i


def helper_mutates_array(n):
    out = np.zeros(n)
    _fill_squares(out)
    return out


def _linspace(a, b, n):
    out = np.empty(n)
    step = (b - a) / (n - 1) if n > 1 else 0.0
    for i in range(n):
        out[i] = a + i * step
    return out


def helper_returns_array(lo, hi, n):
    grid = _linspace(lo, hi, n)
    total = 0.0
    for v in grid:
        total += v
    return grid, total


def _sum_pair(pair, scale=1.0):
    a, b = pair
    return scale * (a + b)


def tuple_argument_to_helper(a, b):
    return _sum_pair((a, b)) + _sum_pair((b, a * 2.0), scale=0.5)


def nested_tuple_return(x, n):
    return x, (x * 2.0, n + 1), n % 3


def tuple_builtins(a, b, c):
    t = (a, b, c)
    return max(t), min(t), len(t), t[-1] - t[0]


def dtype_spellings(n):
    a = np.zeros(n, dtype=float)
    b = np.ones(n, dtype="float32")
    c = np.full((n, 2), 3, dtype=np.int64)
    d = np.empty(n, dtype=np.float64)
    for i in range(n):
        d[i] = a[i] + b[i] + c[i, 1]
    return d, c, b


def bool_arithmetic_on_elements(x):
    positives = 0
    flips = 0
    for i in range(len(x)):
        positives += x[i] > 0.0
        flips += (x[i] > 0.0) != (x[i - 1] > 0.0)
    return positives, flips, -x[0], abs(x[-1]) ** 2



def clip_inplace(x, lo, hi):
    for i in range(len(x)):
        x[i] = min(max(x[i], lo), hi)
    return x


def same_array_twice(n):
    y = np.empty(n)
    for i in range(n):
        y[i] = i
    return y, y


def heat_ping_pong(x, steps):
    n = len(x)
    current = np.empty(n)
    following = np.zeros(n)
    for i in range(n):
        current[i] = x[i]
    for _ in range(steps):
        for i in range(n):
            following[i] = 0.25 * current[i - 1] + 0.5 * current[i] + 0.25 * current[(i + 1) % n]
        current, following = following, current
    return current


def allocate_in_loop(n, k):
    out = np.zeros(n)
    for step in range(k):
        out = np.full(n, step * 1.5)
        out[0] = -step
    return out


def choose_array(x, y, first):
    chosen = x if first else y
    total = 0.0
    for v in chosen:
        total += v
    return chosen, total

# ---------------------------------------------------------------------------
# Two- and three-dimensional arrays


def matvec(a, x):
    n, m = a.shape
    y = np.zeros(n)
    for i in range(n):
        acc = 0.0
        for j in range(m):
            acc += a[i, j] * x[j]
        y[i] = acc
    return y


def matmul(a, b):
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    c = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for p in range(k):
                acc += a[i, p] * b[p, j]
            c[i, j] = acc
    return c


def transpose_copy(a):
    n, m = a.shape
    t = np.empty((m, n))
    for i in range(n):
        for j in range(m):
            t[j, i] = a[i, j]
    return t


def trace(a):
    total = 0.0
    for i in range(min(a.shape[0], a.shape[1])):
        total += a[i, i]
    return total


def outer(x, y):
    out = np.zeros((len(x), len(y)))
    for i in range(len(x)):
        for j in range(len(y)):
            out[i, j] = x[i] * y[j]
    return out


def frobenius(a):
    total = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            total += a[i, j] ** 2
    return math.sqrt(total)


def row_sums(a):
    out = np.zeros(len(a))
    for i in range(len(a)):
        for j in range(a.shape[1]):
            out[i] += a[i, j]
    return out


def cumsum_rows_inplace(a):
    for i in range(a.shape[0]):
        for j in range(1, a.shape[1]):
            a[i, j] += a[i, j - 1]


def laplacian_2d(u):
    n, m = u.shape
    out = np.zeros((n, m))
    for i in range(1, n - 1):
        for j in range(1, m - 1):
            out[i, j] = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j]
    return out


def jacobi_step(a, b, x):
    n = len(b)
    new = np.empty(n)
    for i in range(n):
        sigma = 0.0
        for j in range(n):
            if j != i:
                sigma += a[i, j] * x[j]
        new[i] = (b[i] - sigma) / a[i, i]
    return new


def find_in_matrix(a, value):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] == value:
                return i, j
    return -1, -1


def sum_3d(t):
    total = 0.0
    weighted = 0.0
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            for k in range(t.shape[2]):
                total += t[i, j, k]
                weighted += (i - j + 2 * k) * t[i, j, k]
    return total, weighted, t.ndim, t.size


def shape_info(a):
    rows, cols = a.shape
    return a.ndim, a.size, len(a), rows * 10 + cols, a.shape[-1], a[-1, -1], a[0, -1]


def forward_substitution(l, b):
    n = len(b)
    x = np.zeros(n)
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc -= l[i, j] * x[j]
        x[i] = acc / l[i, i]
    return x


def _norm(x):
    total = 0.0
    for v in x:
        total += v * v
    return math.sqrt(total)


def power_iteration(a, iterations):
    n = a.shape[0]
    v = np.ones(n)
    estimate = 0.0
    for _ in range(iterations):
        w = np.zeros(n)
        for i in range(n):
            for j in range(n):
                w[i] += a[i, j] * v[j]
        norm = _norm(w)
        for i in range(n):
            v[i] = w[i] / norm
        estimate = norm
    return estimate


def game_of_life_step(grid):
    n, m = grid.shape
    out = np.zeros((n, m), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            alive = 0
            for di in range(-1, 2):
                for dj in range(-1, 2):
                    if di == 0 and dj == 0:
                        continue
                    alive += grid[(i + di) % n, (j + dj) % m]
            if alive == 3 or (alive == 2 and grid[i, j] == 1):
                out[i, j] = 1
    return out


def bool_2d_count(mask):
    rows = np.zeros(mask.shape[0], dtype=np.int64)
    total = 0
    for i in range(mask.shape[0]):
        for j in range(mask.shape[1]):
            if mask[i, j]:
                rows[i] += 1
                total += 1
    return rows, total


def scale_matrix_inplace(a, s):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] *= s
            a[i, j] -= 1.0


def grid_with_tuple_shape(n, m):
    g = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            g[i, j] = i - 0.5 * j
    h = np.ones((m, n), dtype=np.int64)
    h[m - 1, n - 1] = n * m
    return g, h


# ---------------------------------------------------------------------------
# Argument generators. Scalars are plain Python numbers (not NumPy scalars, whose
# arithmetic differs from Python's), except where a NumPy scalar is the point.


def _int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A Python int in [lo, hi]."""
    return int(rng.integers(lo, hi, endpoint=True))


def _nonzero_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    while True:
        v = _int(rng, lo, hi)
        if v != 0:
            return v


def _float(rng: np.random.Generator, lo: float = -10.0, hi: float = 10.0) -> float:
    return float(rng.uniform(lo, hi))


def _nonzero_float(rng: np.random.Generator, lo: float = -10.0, hi: float = 10.0) -> float:
    while True:
        v = _float(rng, lo, hi)
        if v != 0.0:
            return v


def _vec(rng: np.random.Generator, lo_n: int = 1, hi_n: int = 24, lo: float = -10.0,
         hi: float = 10.0) -> np.ndarray:
    return rng.uniform(lo, hi, _int(rng, lo_n, hi_n))


def _ints(rng: np.random.Generator, n: int, lo: int = -1000, hi: int = 1000) -> np.ndarray:
    return rng.integers(lo, hi, n, endpoint=True, dtype=np.int64)


def _mat(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return rng.uniform(-5.0, 5.0, (n, m))


def _special_float(rng: np.random.Generator) -> float:
    choices = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -5e-324, 2.5]
    if rng.random() < 0.6:
        return choices[_int(rng, 0, len(choices) - 1)]
    return _float(rng, -1e3, 1e3)


def _with_nans(rng: np.random.Generator) -> tuple:
    x = _vec(rng, 1, 30)
    x[rng.random(len(x)) < 0.3] = math.nan
    return (x,)


def _sorted_vec(rng: np.random.Generator) -> tuple:
    x = np.sort(np.round(_vec(rng, 1, 30), 1))
    return x, float(np.round(_float(rng, -11.0, 11.0), 1))


def _two_vecs(rng: np.random.Generator) -> tuple:
    n = _int(rng, 0, 40)
    return rng.uniform(-5.0, 5.0, n), rng.uniform(-5.0, 5.0, n)


def _two_float32_vecs(rng: np.random.Generator) -> tuple:
    x, y = _two_vecs(rng)
    return x.astype(np.float32), y.astype(np.float32)


def _vec_and_mask(rng: np.random.Generator) -> tuple:
    n = _int(rng, 0, 30)
    return rng.uniform(-5.0, 5.0, n), rng.random(n) < 0.5


def _matvec_args(rng: np.random.Generator) -> tuple:
    n, m = _int(rng, 1, 8), _int(rng, 1, 8)
    return _mat(rng, n, m), rng.uniform(-5.0, 5.0, m)


def _histogram_args(rng: np.random.Generator) -> tuple:
    lo = _float(rng, -5.0, 0.0)
    return _vec(rng, 1, 40), _int(rng, 1, 8), lo, lo + _float(rng, 1.0, 10.0)


def _dominant_system(rng: np.random.Generator) -> tuple:
    n = _int(rng, 1, 8)
    a = _mat(rng, n, n)
    a += np.diag(np.sum(np.abs(a), axis=1) + 1.0)
    return a, rng.uniform(-5.0, 5.0, n), rng.uniform(-1.0, 1.0, n)


def _lower_triangular(rng: np.random.Generator) -> tuple:
    n = _int(rng, 1, 8)
    l = np.tril(_mat(rng, n, n)) + np.diag(rng.uniform(1.0, 3.0, n))
    return l, rng.uniform(-5.0, 5.0, n)


def _matrix_with_hit(rng: np.random.Generator) -> tuple:
    a = np.round(_mat(rng, _int(rng, 1, 6), _int(rng, 1, 6)))
    value = float(a.flat[_int(rng, 0, a.size - 1)]) if rng.random() < 0.7 else 99.0
    return a, value


def _matmul_args(rng: np.random.Generator) -> tuple:
    n, k, m = _int(rng, 1, 6), _int(rng, 1, 6), _int(rng, 1, 6)
    return _mat(rng, n, k), _mat(rng, k, m)


def _life_grid(rng: np.random.Generator) -> tuple:
    return (rng.integers(0, 1, (_int(rng, 3, 8), _int(rng, 3, 8)), endpoint=True,
                         dtype=np.int64),)


def _range_args(rng: np.random.Generator) -> tuple:
    return _int(rng, -50, 50), _int(rng, -50, 50), _nonzero_int(rng, -7, 7)


def _sym_positive(rng: np.random.Generator) -> tuple:
    n = _int(rng, 1, 6)
    a = _mat(rng, n, n)
    return a @ a.T + np.eye(n), _int(rng, 1, 30)


@dataclass(frozen=True)
class Case:
    """A corpus function, its argument generator, and how closely results must agree.

    `rtol`/`atol` apply to floats; ints and bools always compare exactly. Cases
    that call libm (transcendental functions) get 1e-10: CPython and compiled
    code may reach different implementations of the same function.
    """

    func: Callable
    make_args: Callable[[np.random.Generator], tuple]
    rtol: float = 1e-12
    atol: float = 0.0

    @property
    def name(self) -> str:
        return self.func.__name__


LIBM = {"rtol": 1e-10, "atol": 1e-12}
FLOAT32 = {"rtol": 2e-5, "atol": 1e-3}

CASES: list[Case] = [
    # integer algorithms
    Case(gcd, lambda r: (_int(r, -10**6, 10**6), _int(r, -10**6, 10**6))),
    Case(lcm, lambda r: (_int(r, -10**4, 10**4), _int(r, -10**4, 10**4))),
    Case(collatz_steps, lambda r: (_int(r, 1, 10**5),)),
    Case(is_prime, lambda r: (_int(r, -5, 10**4),)),
    Case(count_primes_below, lambda r: (_int(r, 0, 200),)),
    Case(fibonacci, lambda r: (_int(r, 0, 90),)),
    Case(factorial, lambda r: (_int(r, 0, 20),)),
    Case(isqrt_newton, lambda r: (_int(r, 0, 10**12),)),
    Case(digit_sum, lambda r: (_int(r, -10**12, 10**12),)),
    Case(reverse_digits, lambda r: (_int(r, -10**9, 10**9),)),
    Case(int_floor_ops, lambda r: (_int(r, -1000, 1000), _nonzero_int(r, -50, 50))),
    Case(binomial, lambda r: (_int(r, 0, 60), _int(r, -2, 62))),
    Case(power_mod, lambda r: (_int(r, -10**6, 10**6), _int(r, 0, 10**6),
                               _int(r, 1, 2**31 - 1))),
    Case(lcg_sum, lambda r: (_int(r, 0, 2**31 - 1), _int(r, 0, 200))),
    Case(count_divisors, lambda r: (_int(r, 1, 10**5),)),
    Case(sum_range_steps, _range_args),
    Case(sum_range_variants, lambda r: (_int(r, -5, 40),)),
    Case(nested_continue, lambda r: (_int(r, 0, 40),)),
    Case(break_in_nested, lambda r: (_int(r, 0, 30), _int(r, 0, 3000))),
    Case(triangle_kind, lambda r: (_int(r, 1, 5), _int(r, 1, 5), _int(r, 1, 5))),
    Case(leap_year, lambda r: (_int(r, 1, 2400),)),
    Case(bit_ops, lambda r: (_int(r, -10**6, 10**6), _int(r, -10**6, 10**6))),
    Case(int_pow, lambda r: (_int(r, -9, 9), _int(r, 0, 15))),
    Case(pow_negative_constant, lambda r: (_nonzero_int(r, -100, 100),)),
    Case(int_true_division, lambda r: (_int(r, -10**6, 10**6), _nonzero_int(r, -1000, 1000))),
    Case(augmented_ops, lambda r: (_int(r, -1000, 1000), _nonzero_int(r, -30, 30))),
    Case(loop_variable_after_loop, lambda r: (_int(r, 1, 100),)),
    Case(while_true_break, lambda r: (_int(r, 0, 10**6),)),
    Case(while_continue, lambda r: (_int(r, 0, 100),)),
    # float scalars and control flow
    Case(horner_scalar, lambda r: (_float(r, -3.0, 3.0),)),
    Case(newton_sqrt, lambda r: (_float(r, 0.01, 1e6),)),
    Case(newton_cube_root, lambda r: (_float(r, -1e3, 1e3),)),
    Case(bisect_root, lambda r: (_float(r, 1.5, 2.0), _float(r, 2.5, 4.0))),
    Case(float_floor_ops, lambda r: (_float(r, -100.0, 100.0), _nonzero_float(r, -7.0, 7.0))),
    Case(mixed_promotion, lambda r: (_int(r, 0, 100), _float(r))),
    Case(int_becomes_float_in_loop, lambda r: (_int(r, 0, 100),)),
    Case(sign_function, lambda r: (0.0 if r.random() < 0.2 else _float(r),)),
    Case(clamp, lambda r: (_float(r), _float(r, -10.0, 0.0), _float(r, 0.0, 10.0))),
    Case(chained_compare, lambda r: (_int(r, 0, 3), _int(r, 0, 3), _int(r, 0, 3))),
    Case(logic_ops, lambda r: (_int(r, -3, 3), _int(r, -3, 3))),
    Case(short_circuit_values, lambda r: (_int(r, -2, 2), _int(r, -2, 2))),
    Case(conditional_expr, lambda r: (_float(r, -3.0, 3.0),)),
    Case(abs_min_max, lambda r: (_float(r), _float(r), _float(r))),
    Case(conversions, lambda r: (_float(r, -1e3, 1e3) if r.random() < 0.7
                                 else _int(r, -2000, 2000) / 2,)),
    Case(round_half_even, lambda r: (_int(r, -1000, 1000),)),
    Case(float_pow, lambda r: (_float(r, 0.01, 20.0), _float(r, -3.0, 3.0)), **LIBM),
    Case(pow_int_exponent, lambda r: (_nonzero_float(r, -4.0, 4.0), _int(r, 0, 12))),
    Case(trig_identities, lambda r: (_float(r, -1.5, 1.5),), **LIBM),
    Case(inverse_trig, lambda r: (_float(r, -0.99, 0.99),), **LIBM),
    Case(hyperbolic, lambda r: (_float(r, -20.0, 20.0),), **LIBM),
    Case(exp_log_family, lambda r: (_float(r, 1e-3, 1e3),), **LIBM),
    Case(misc_math, lambda r: (_float(r, -1e3, 1e3), _nonzero_float(r, -50.0, 50.0)), **LIBM),
    Case(math_constants, lambda r: (_float(r),)),
    Case(special_value_checks, lambda r: (_special_float(r),)),
    Case(numpy_scalar_functions, lambda r: (_float(r, -5.0, 5.0),), **LIBM),
    Case(module_constants, lambda r: (_float(r, -3.0, 3.0),)),
    Case(logistic_map, lambda r: (_float(r, 2.5, 4.0), _float(r, 0.01, 0.99), _int(r, 0, 50))),
    Case(mandelbrot_escape, lambda r: (_float(r, -2.0, 0.6), _float(r, -1.2, 1.2),
                                       _int(r, 1, 200))),
    Case(trapezoid_integral, lambda r: (_float(r, -3.0, 0.0), _float(r, 0.0, 3.0),
                                        _int(r, 1, 200)), **LIBM),
    Case(simpson_integral, lambda r: (_float(r, -3.0, 0.0), _float(r, 0.0, 3.0),
                                      2 * _int(r, 1, 100)), **LIBM),
    Case(rk4_decay, lambda r: (_float(r, -5.0, 5.0), _float(r, 0.0, 2.0), _float(r, 0.0, 0.2),
                               _int(r, 0, 100))),
    Case(keyword_helpers, lambda r: (_float(r), _float(r))),
    Case(helper_chain, lambda r: (_float(r),)),
    Case(tuple_returns, lambda r: (_int(r, -1000, 1000), _nonzero_int(r, -20, 20))),
    Case(int_and_float_helper, lambda r: (_int(r, -1000, 1000), _float(r))),
    Case(bool_argument, lambda r: (bool(r.random() < 0.5), _float(r))),
    Case(assert_and_pass, lambda r: (_int(r, 0, 50),)),
    Case(return_in_while, lambda r: (_int(r, 0, 10**5),)),
    Case(float32_scalar, lambda r: (np.float32(_float(r)),), **FLOAT32),
    # one-dimensional arrays
    Case(array_sum, lambda r: (_vec(r, 0, 40),)),
    Case(mean_variance, lambda r: (_vec(r),)),
    Case(dot, _two_vecs),
    Case(norm2, lambda r: (_vec(r, 0, 40),)),
    Case(argmax, lambda r: (_vec(r),)),
    Case(min_max_index, lambda r: (_vec(r),)),
    Case(prefix_sum_inplace, lambda r: (_vec(r, 0, 40),)),
    Case(reverse_inplace, lambda r: (_vec(r),)),
    Case(scale_shift_inplace, lambda r: (_vec(r, 0, 30), _float(r), _float(r))),
    Case(stencil_3pt, lambda r: (_vec(r),)),
    Case(periodic_stencil, lambda r: (_vec(r),)),
    Case(horner_array, lambda r: (_vec(r, 0, 10, -3.0, 3.0), _float(r, -2.0, 2.0))),
    Case(poly_derivative_eval, lambda r: (_vec(r, 0, 10, -3.0, 3.0), _float(r, -2.0, 2.0))),
    Case(running_max, lambda r: (_vec(r, 0, 30),)),
    Case(cumulative_product, lambda r: (_vec(r, 0, 30, -1.5, 1.5),)),
    Case(first_index_above, lambda r: (_vec(r, 0, 30), _float(r, 0.0, 12.0))),
    Case(is_sorted, lambda r: (np.sort(_vec(r)) if r.random() < 0.5 else _vec(r),)),
    Case(binary_search, _sorted_vec),
    Case(bubble_sort_inplace, lambda r: (np.round(_vec(r, 0, 25)),)),
    Case(insertion_sort_inplace, lambda r: (np.round(_vec(r, 0, 25)),)),
    Case(kahan_sum, lambda r: (r.uniform(-1.0, 1.0, _int(r, 0, 100)) * 10.0 ** r.integers(
        -8, 8, 1),)),
    Case(softmax, lambda r: (_vec(r),), **LIBM),
    Case(logsumexp, lambda r: (_vec(r, 1, 30, -50.0, 50.0),), **LIBM),
    Case(sigmoid_array, lambda r: (_vec(r),), **LIBM),
    Case(relu_inplace, lambda r: (_vec(r, 0, 30),)),
    Case(count_sign_changes, lambda r: (_vec(r, 0, 30),)),
    Case(convolve_valid, lambda r: (_vec(r, 5, 30), _vec(r, 1, 5))),
    Case(histogram, _histogram_args),
    Case(nan_safe_sum, _with_nans),
    Case(negative_indices, lambda r: (_vec(r, 2, 20),)),
    Case(pascal_row, lambda r: (_int(r, 0, 60),)),
    Case(sieve, lambda r: (_int(r, 1, 300),)),
    Case(threshold_mask, lambda r: (_vec(r, 0, 30), _float(r))),
    Case(count_true, lambda r: (r.random(_int(r, 0, 40)) < 0.4,)),
    Case(masked_mean, _vec_and_mask),
    Case(int_array_stats, lambda r: (_ints(r, _int(r, 0, 40)),)),
    Case(int_array_inplace, lambda r: (_ints(r, _int(r, 1, 30)),)),
    Case(float32_dot, _two_float32_vecs, **FLOAT32),
    Case(float32_scale, lambda r: (_vec(r).astype(np.float32),)),
    Case(full_and_like, lambda r: (_vec(r, 0, 30),)),
    Case(empty_then_fill, lambda r: (_int(r, 0, 40),)),
    Case(arrays_of_every_dtype, lambda r: (_int(r, 1, 40),)),
    Case(tuple_of_arrays, lambda r: (_vec(r, 0, 30),)),
    Case(helper_mutates_array, lambda r: (_int(r, 0, 30),)),
    Case(helper_returns_array, lambda r: (_float(r, -5.0, 0.0), _float(r, 0.0, 5.0),
                                          _int(r, 0, 30))),
    Case(tuple_argument_to_helper, lambda r: (_float(r), _float(r))),
    Case(nested_tuple_return, lambda r: (_float(r), _int(r, -100, 100))),
    Case(tuple_builtins, lambda r: (_float(r), _float(r), _float(r))),
    Case(dtype_spellings, lambda r: (_int(r, 0, 20),)),
    Case(bool_arithmetic_on_elements, lambda r: (_vec(r),)),
    Case(clip_inplace, lambda r: (_vec(r, 0, 20), _float(r, -8.0, 0.0), _float(r, 0.0, 8.0))),
    Case(same_array_twice, lambda r: (_int(r, 0, 20),)),
    Case(heat_ping_pong, lambda r: (_vec(r, 1, 20), _int(r, 0, 12))),
    Case(allocate_in_loop, lambda r: (_int(r, 1, 20), _int(r, 0, 6))),
    Case(choose_array, lambda r: (_vec(r, 3, 3), _vec(r, 3, 3), bool(r.random() < 0.5))),
    # two- and three-dimensional arrays
    Case(matvec, _matvec_args),
    Case(matmul, _matmul_args),
    Case(transpose_copy, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)),)),
    Case(trace, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)),)),
    Case(outer, lambda r: (_vec(r, 0, 8), _vec(r, 0, 8))),
    Case(frobenius, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)),)),
    Case(row_sums, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)),)),
    Case(cumsum_rows_inplace, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)),)),
    Case(laplacian_2d, lambda r: (_mat(r, _int(r, 1, 9), _int(r, 1, 9)),)),
    Case(jacobi_step, _dominant_system),
    Case(find_in_matrix, _matrix_with_hit),
    Case(sum_3d, lambda r: (r.uniform(-5, 5, (_int(r, 1, 4), _int(r, 1, 4), _int(r, 1, 4))),)),
    Case(shape_info, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)),)),
    Case(forward_substitution, _lower_triangular),
    Case(power_iteration, _sym_positive, **LIBM),
    Case(game_of_life_step, _life_grid),
    Case(bool_2d_count, lambda r: (r.random((_int(r, 1, 7), _int(r, 1, 7))) < 0.5,)),
    Case(scale_matrix_inplace, lambda r: (_mat(r, _int(r, 1, 7), _int(r, 1, 7)), _float(r))),
    Case(grid_with_tuple_shape, lambda r: (_int(r, 1, 8), _int(r, 1, 8))),
]
