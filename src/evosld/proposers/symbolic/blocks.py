"""Building blocks of scaling laws: the factors a law's terms multiply together.

Each block works on *transformed* features ``u`` (see ``space.Space``): for a positive,
log-scale feature ``x`` it is ``u = ln(x / x_ref)`` with a fixed round reference
``x_ref`` (so ``exp(a * u) = (x / x_ref)^a``); a fraction in [0, 1] (e.g. a mixture
proportion) is used as it is; any other feature is standardised. Nonlinear
parameters are in natural units (a fitted exponent is the exponent of ``x``).

A block gives, for its parameters: their count, their box (bounds and the box
random starts are drawn from), a numpy evaluation ``(N, F) -> (N,)``, the numpy
source of the same expression for emitted programs, and readable / LaTeX forms.

Forms (references for the ones taken from the literature):

- ``pow``     (x / x_ref)^a                                   power law (Kaplan et al. 2020)
- ``lin``     u                                               log of a size; a raw fraction
- ``sat``     1 / (1 + exp(a (u - m)))  = 1 / (1 + (x/x_c)^a) saturation, A/(x^a + c) form
                                                             (Lin et al. 2024, rectified law)
- ``shift``   (w + c)^a, w = x / x_ref or the fraction       offset power law (x + c)^-a
- ``logsh``   ln(w + c)                                       logarithm with an offset
- ``expmix``  exp(sum_j t_j u_j)                              exponential mixing
                                                             (Ye et al. 2024, data mixing laws)
- ``bowl``    (u_i - m_0 - sum_j m_j u_j)^2                   quadratic bowl whose centre moves
                                                             with other features (StepLaw-like
                                                             optimal lr / batch size)
- ``eff``     (D'/x_ref)^a, D' = U (1 + r (1 - e^{-(D/U-1)/r}))
                                                             effective data under repetition
                                                             (Muennighoff et al. 2023)
- ``bump``    exp(-((u - m) / e^w)^2 / 2)                     a localised bump (Gaussian in u)
- ``escale``  ((x_i/x_ref) (1 + k ln(x_j/x_j0)))^a, k >= 0     effective scale: a size times a
                                                             slowly (logarithmically) growing
                                                             factor of a second feature, one
                                                             shared exponent (ParScale's
                                                             N (k ln P + 1): Chen et al. 2025,
                                                             "Parallel Scaling Law for Language
                                                             Models", arXiv:2505.10475)
- ``tpow``    (x_i/x_ref_i)^a + e^r (x_j/x_ref_j)^a           two sizes with one shared exponent:
                                                             E + A/N^a + B/D^a, the Chinchilla
                                                             form with tied exponents (Gadre et
                                                             al. 2024, arXiv:2403.08540: their
                                                             E + (a M^h + b M^-h) C^-h, C = 6ND,
                                                             M = D/N, is this law)

Terms combine into non-monotone shapes in one feature without a block per
shape: ``c0 + c1 bump`` is a bump or a dip (inverted U / U) that flattens back
to c0 on both sides, so unlike a bowl it may extrapolate; ``c0 + c1 sat`` is a
transition between two levels (saturation to a chance level or a ceiling);
``c0 + c1 sat + c2 bump`` or ``c0 + c1 exp(t u) + c2 bump`` a trend with a
local excursion (double descent, a U-shaped dip before improvement), as the
U-shaped / inverted-U scaling of Wu & Lo (2025, arXiv:2410.01692) describes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evosld.proposers.symbolic.space import Space

#: Exponent arguments are clipped to this magnitude (emitted programs do the same).
EXP_CLIP = 50.0


def _exp(a: np.ndarray) -> np.ndarray:
    return np.exp(np.clip(a, -EXP_CLIP, EXP_CLIP))


@dataclass(frozen=True)
class Box:
    """Bounds and start box of a block's parameters (all arrays of one length)."""

    lo: list[float]
    hi: list[float]
    init_lo: list[float]
    init_hi: list[float]
    names: list[str]


class Block:
    """A kind of factor. Subclasses define the maths and its three spellings."""

    name = ""
    #: feature kinds each position accepts (for the mutation operators)
    accepts: tuple[str, ...] = ("log", "frac", "lin")

    def n_params(self, feats: tuple[int, ...]) -> int:
        raise NotImplementedError

    def valid(self, feats: tuple[int, ...], space: Space) -> bool:
        return len(feats) >= 1 and all(0 <= i < space.n_features for i in feats) and all(
            space.kinds[i] in self.accepts for i in feats
        )

    def box(self, feats: tuple[int, ...], space: Space) -> Box:
        raise NotImplementedError

    def evaluate(self, U: np.ndarray, feats: tuple[int, ...], th: np.ndarray, space: Space) -> np.ndarray:
        """(N, F) transformed features, parameters (n_params,) -> (N,)."""
        raise NotImplementedError

    def source(self, feats: tuple[int, ...], th: list[str], space: Space) -> str:
        """numpy source of ``evaluate``; ``u{i}`` names feature i, ``th`` the params."""
        raise NotImplementedError

    def text(self, feats: tuple[int, ...], p: list[str], space: Space) -> str:
        raise NotImplementedError

    def latex(self, feats: tuple[int, ...], p: list[str], space: Space) -> str:
        raise NotImplementedError


def _ltx_num(v: float) -> str:
    """A number in LaTeX, three significant digits: ``9.1e+03`` as ``9.1 \\cdot 10^{3}``."""
    text = f"{v:.3g}"
    mant, _, exp = text.partition("e")
    if not exp:
        return text
    power = f"10^{{{int(exp)}}}"
    return power if mant == "1" else f"{mant} \\cdot {power}"


def _ltx_name(space: Space, i: int) -> str:
    return r"\mathrm{" + space.short[i].replace("_", r"\_") + "}"


def _ltx_u(space: Space, i: int) -> str:
    n = _ltx_name(space, i)
    if space.kinds[i] == "log":
        return rf"\ln\frac{{{n}}}{{{_ltx_num(space.ref[i])}}}"
    if space.kinds[i] == "frac":
        return n
    return rf"\frac{{{n} - {_ltx_num(space.ref[i])}}}{{{_ltx_num(space.scale[i])}}}"


def _ltx_p(p: str) -> str:
    head, _, idx = p.partition("_")
    g = {"alpha": r"\alpha", "mu": r"\mu", "tau": r"\tau", "rho": r"\rho", "kappa": r"\kappa",
         "omega": r"\omega"}
    return f"{g.get(head, head)}_{{{idx}}}" if idx else g.get(head, head)


class Pow(Block):
    name = "pow"
    accepts = ("log",)

    def n_params(self, feats):
        return 1

    def valid(self, feats, space):
        return len(feats) == 1 and super().valid(feats, space)

    def box(self, feats, space):
        return Box([-4.0], [4.0], [-1.0], [0.3], ["alpha"])

    def evaluate(self, U, feats, th, space):
        return _exp(th[0] * U[:, feats[0]])

    def source(self, feats, th, space):
        return f"_exp({th[0]} * u{feats[0]})"

    def text(self, feats, p, space):
        i = feats[0]
        return f"({space.short[i]}/{space.ref[i]:.3g})^{p[0]}"

    def latex(self, feats, p, space):
        i = feats[0]
        return rf"\left(\frac{{{_ltx_name(space, i)}}}{{{_ltx_num(space.ref[i])}}}\right)^{{{_ltx_p(p[0])}}}"


class Lin(Block):
    name = "lin"

    def n_params(self, feats):
        return 0

    def valid(self, feats, space):
        return len(feats) == 1 and super().valid(feats, space)

    def box(self, feats, space):
        return Box([], [], [], [], [])

    def evaluate(self, U, feats, th, space):
        return U[:, feats[0]]

    def source(self, feats, th, space):
        return f"u{feats[0]}"

    def text(self, feats, p, space):
        return space.u_text(feats[0])

    def latex(self, feats, p, space):
        return _ltx_u(space, feats[0])


class Sat(Block):
    name = "sat"

    def n_params(self, feats):
        return 2

    def valid(self, feats, space):
        return len(feats) == 1 and super().valid(feats, space)

    def box(self, feats, space):
        i = feats[0]
        s = space.span(i)
        return Box(
            [-max(8.0, 20.0 / s), space.umin[i] - 2 * s],
            [max(8.0, 20.0 / s), space.umax[i] + 2 * s],
            [0.2 * max(1.0, 5.0 / s), space.umin[i] - 0.25 * s],
            [2.0 * max(1.0, 5.0 / s), space.umax[i] + 0.25 * s],
            ["alpha", "mu"],
        )

    def evaluate(self, U, feats, th, space):
        return 1.0 / (1.0 + _exp(th[0] * (U[:, feats[0]] - th[1])))

    def source(self, feats, th, space):
        return f"1.0 / (1.0 + _exp({th[0]} * (u{feats[0]} - {th[1]})))"

    def text(self, feats, p, space):
        return f"1/(1 + exp({p[0]}*({space.u_text(feats[0])} - {p[1]})))"

    def latex(self, feats, p, space):
        return (
            rf"\frac{{1}}{{1 + e^{{{_ltx_p(p[0])}\left({_ltx_u(space, feats[0])} - {_ltx_p(p[1])}\right)}}}}"
        )


def _w_src(i: int, space: Space) -> str:
    return f"np.exp(u{i})" if space.kinds[i] == "log" else f"u{i}"


def _w_text(i: int, space: Space) -> str:
    """Feature ``i`` as shifted blocks read it: x/x_ref for a log feature, else x."""
    return f"{space.short[i]}/{space.ref[i]:.3g}" if space.kinds[i] == "log" else space.short[i]


def _w_latex(i: int, space: Space) -> str:
    n = _ltx_name(space, i)
    return rf"\frac{{{n}}}{{{_ltx_num(space.ref[i])}}}" if space.kinds[i] == "log" else n


class Shift(Block):
    name = "shift"
    accepts = ("log", "frac")

    def n_params(self, feats):
        return 2

    def valid(self, feats, space):
        return len(feats) == 1 and super().valid(feats, space)

    def box(self, feats, space):
        return Box([-4.0, -12.0], [4.0, 6.0], [-1.5, -5.0], [-0.1, 1.0], ["alpha", "kappa"])

    @staticmethod
    def _w(U, i, space):
        return np.exp(U[:, i]) if space.kinds[i] == "log" else U[:, i]

    def evaluate(self, U, feats, th, space):
        w = self._w(U, feats[0], space) + np.exp(th[1])
        return _exp(th[0] * np.log(w))

    def source(self, feats, th, space):
        return f"_exp({th[0]} * np.log({_w_src(feats[0], space)} + np.exp({th[1]})))"

    def text(self, feats, p, space):
        return f"({_w_text(feats[0], space)} + exp({p[1]}))^{p[0]}"

    def latex(self, feats, p, space):
        return rf"\left({_w_latex(feats[0], space)} + e^{{{_ltx_p(p[1])}}}\right)^{{{_ltx_p(p[0])}}}"


class LogShift(Shift):
    name = "logsh"

    def n_params(self, feats):
        return 1

    def box(self, feats, space):
        return Box([-12.0], [6.0], [-6.0], [0.0], ["kappa"])

    def evaluate(self, U, feats, th, space):
        return np.log(self._w(U, feats[0], space) + np.exp(th[0]))

    def source(self, feats, th, space):
        return f"np.log({_w_src(feats[0], space)} + np.exp({th[0]}))"

    def text(self, feats, p, space):
        return f"ln({_w_text(feats[0], space)} + exp({p[0]}))"

    def latex(self, feats, p, space):
        return rf"\ln\left({_w_latex(feats[0], space)} + e^{{{_ltx_p(p[0])}}}\right)"


class ExpMix(Block):
    name = "expmix"
    accepts = ("frac", "lin")

    def n_params(self, feats):
        return len(feats)

    def valid(self, feats, space):
        return len(set(feats)) == len(feats) and list(feats) == sorted(feats) and super().valid(feats, space)

    def box(self, feats, space):
        n = len(feats)
        return Box([-20.0] * n, [20.0] * n, [-3.0] * n, [3.0] * n, ["tau"] * n)

    def evaluate(self, U, feats, th, space):
        return _exp(U[:, list(feats)] @ np.asarray(th, dtype=float))

    def source(self, feats, th, space):
        return "_exp(" + " + ".join(f"{t} * u{i}" for t, i in zip(th, feats)) + ")"

    def text(self, feats, p, space):
        return "exp(" + " + ".join(f"{t}*{space.u_text(i)}" for t, i in zip(p, feats)) + ")"

    def latex(self, feats, p, space):
        return "e^{" + " + ".join(f"{_ltx_p(t)} {_ltx_u(space, i)}" for t, i in zip(p, feats)) + "}"


class Bowl(Block):
    name = "bowl"

    def n_params(self, feats):
        return len(feats)

    def valid(self, feats, space):
        rest = list(feats[1:])
        return (
            len(feats) >= 1
            and feats[0] not in rest
            and space.bowl_axis(feats[0])
            and len(set(rest)) == len(rest)
            and rest == sorted(rest)
            and super().valid(feats, space)
        )

    def box(self, feats, space):
        i = feats[0]
        s = space.span(i)
        n = len(feats) - 1
        return Box(
            [space.umin[i] - 2 * s] + [-4.0] * n,
            [space.umax[i] + 2 * s] + [4.0] * n,
            [space.umin[i]] + [-0.5] * n,
            [space.umax[i]] + [0.5] * n,
            ["mu"] * (n + 1),
        )

    def evaluate(self, U, feats, th, space):
        centre = th[0] + (U[:, list(feats[1:])] @ np.asarray(th[1:], dtype=float) if len(feats) > 1 else 0.0)
        return (U[:, feats[0]] - centre) ** 2

    def source(self, feats, th, space):
        centre = " + ".join([th[0]] + [f"{t} * u{j}" for t, j in zip(th[1:], feats[1:])])
        return f"(u{feats[0]} - ({centre})) ** 2"

    def text(self, feats, p, space):
        centre = " + ".join([p[0]] + [f"{t}*{space.u_text(j)}" for t, j in zip(p[1:], feats[1:])])
        return f"({space.u_text(feats[0])} - ({centre}))^2"

    def latex(self, feats, p, space):
        centre = " + ".join([_ltx_p(p[0])] + [f"{_ltx_p(t)} {_ltx_u(space, j)}" for t, j in zip(p[1:], feats[1:])])
        return rf"\left({_ltx_u(space, feats[0])} - \left({centre}\right)\right)^2"


class Eff(Block):
    name = "eff"
    accepts = ("log",)

    def n_params(self, feats):
        return 2

    def valid(self, feats, space):
        return len(feats) == 2 and tuple(feats) in space.dominates

    def box(self, feats, space):
        return Box([-4.0, -4.0], [4.0, 9.0], [-1.0, 0.0], [0.0, 4.0], ["alpha", "rho"])

    def evaluate(self, U, feats, th, space):
        i, j = feats
        shift = float(np.log(space.ref[j]) - np.log(space.ref[i]))
        return eff_power(U[:, i], U[:, j], shift, th[0], th[1])

    def source(self, feats, th, space):
        i, j = feats
        shift = float(np.log(space.ref[j]) - np.log(space.ref[i]))
        return f"_eff(u{i}, u{j}, {shift!r}, {th[0]}, {th[1]})"

    def text(self, feats, p, space):
        i, j = feats
        d, u = space.short[i], space.short[j]
        return f"({u}*(1 + exp({p[1]})*(1 - exp(-({d}/{u} - 1)/exp({p[1]}))))/{space.ref[i]:.3g})^{p[0]}"

    def latex(self, feats, p, space):
        i, j = feats
        d, u = _ltx_name(space, i), _ltx_name(space, j)
        r = f"e^{{{_ltx_p(p[1])}}}"
        return (
            rf"\left(\frac{{{u}\left(1 + {r}\left(1 - e^{{-({d}/{u} - 1)/{r}}}\right)\right)}}"
            rf"{{{_ltx_num(space.ref[i])}}}\right)^{{{_ltx_p(p[0])}}}"
        )


class Bump(Block):
    """A localised bump in one feature: exp(-((u - mu) / e^omega)^2 / 2).

    Bounded (between 0 and 1, and back to 0 away from its centre), so it is
    allowed along features validation extrapolates: beyond the bump a law
    returns to its trend. Its centre may sit a span beyond the seen range.
    Not along features the data shows to be monotone (``Space.monotone``).
    """

    name = "bump"

    def n_params(self, feats):
        return 2

    def valid(self, feats, space):
        return len(feats) == 1 and feats[0] not in space.monotone and super().valid(feats, space)

    def box(self, feats, space):
        i = feats[0]
        s = space.span(i)
        return Box(
            [space.umin[i] - s, float(np.log(0.02 * s))],
            [space.umax[i] + s, float(np.log(2.0 * s))],
            [space.umin[i], float(np.log(0.08 * s))],
            [space.umax[i], float(np.log(0.6 * s))],
            ["mu", "omega"],
        )

    def evaluate(self, U, feats, th, space):
        z = (U[:, feats[0]] - th[0]) * np.exp(-th[1])
        return _exp(-0.5 * z * z)

    def source(self, feats, th, space):
        return f"_exp(-0.5 * ((u{feats[0]} - {th[0]}) * np.exp(-{th[1]})) ** 2)"

    def text(self, feats, p, space):
        return f"exp(-(({space.u_text(feats[0])} - {p[0]})/exp({p[1]}))^2/2)"

    def latex(self, feats, p, space):
        u = _ltx_u(space, feats[0])
        return rf"e^{{-\frac{{1}}{{2}}\left(\left({u} - {_ltx_p(p[0])}\right) e^{{-{_ltx_p(p[1])}}}\right)^2}}"


class EffScale(Block):
    """An effective scale: ((x_i / x_ref) * (1 + k ln(x_j / x_j0)))^a, k >= 0.

    ``x_i`` is a log-scale size, ``x_j`` another positive (log-scale) feature and
    ``x_j0`` its smallest training value (rounded to three digits), so the log
    factor starts at 1 there and grows slowly with ``x_j``: ``x_j`` multiplies
    the size it acts through, and both share one exponent (ParScale's
    N (k ln P + 1), Chen et al. 2025; N times a log of experts, data times a log
    of epochs). Two parameters, ``alpha`` and ``kappa`` (= k >= 0). Below
    ``x_j0`` the factor goes on as ``(x_j/x_j0)^k`` (``escale_power``), so a row
    below every training value meets no pole. Not offered
    for a pair the data entangles (``Space.entangled``: data grown with model
    size), where the factor mimics an exponent in range and runs off beyond it.
    """

    name = "escale"
    accepts = ("log",)

    def n_params(self, feats):
        return 2

    def valid(self, feats, space):
        return (len(feats) == 2 and feats[0] != feats[1] and not space.entangles(*feats)
                and super().valid(feats, space))

    def box(self, feats, space):
        # k ln(x_j/x_j0) spans [0, k * span]: up to a factor 1 + 10 over the seen range. Every start
        # has k = 0 (no effect): where the fit rows take one value of x_j, k is not identified and
        # stays 0, so the law falls back to the size alone instead of an arbitrary k.
        kmax = 10.0 / space.span(feats[1])
        return Box([-4.0, 0.0], [4.0, kmax], [-1.0, 0.0], [0.0, 0.0], ["alpha", "kappa"])

    @staticmethod
    def origin(j: int, space: Space) -> tuple[float, float]:
        """(x_j0, u_j0): the smallest training value of x_j, rounded, and its ``u``."""
        x0 = float(f"{space.ref[j] * np.exp(space.umin[j]):.3g}")
        return x0, float(np.log(x0 / space.ref[j]))

    def evaluate(self, U, feats, th, space):
        i, j = feats
        return escale_power(U[:, i], U[:, j], self.origin(j, space)[1], th[0], th[1])

    def source(self, feats, th, space):
        i, j = feats
        return f"_escale(u{i}, u{j}, {self.origin(j, space)[1]!r}, {th[0]}, {th[1]})"

    def text(self, feats, p, space):
        i, j = feats
        return (f"({_w_text(i, space)} * (1 + {p[1]}*ln({space.short[j]}/{self.origin(j, space)[0]:.3g})))"
                f"^{p[0]}")

    def latex(self, feats, p, space):
        i, j = feats
        x0 = _ltx_num(self.origin(j, space)[0])
        log = rf"\ln {_ltx_name(space, j)}" if x0 == "1" else rf"\ln\frac{{{_ltx_name(space, j)}}}{{{x0}}}"
        return (rf"\left({_w_latex(i, space)}\left(1 + {_ltx_p(p[1])} {log}\right)\right)"
                rf"^{{{_ltx_p(p[0])}}}")


class TiedPow(Block):
    """Two sizes under one exponent: (x_i/x_ref_i)^a + e^r (x_j/x_ref_j)^a.

    Times its coefficient ``c`` it is ``A x_i^a + B x_j^a`` with ``A = c``,
    ``B = c e^r`` of one sign: the two-term Chinchilla law with the exponents
    tied, one parameter fewer. Gadre et al. (2024, arXiv:2403.08540) fit
    ``E + (a M^h + b M^-h) C^-h`` with ``C = 6ND``, ``M = D/N``: expanded, the
    same law with exponent ``-2h`` on N and on D, and it predicted their 1.4B
    and 6.9B runs from runs of 300x less compute. A tie is what the data
    support when a few scales pin one exponent better than two: on three
    model sizes the untied law has three free parameters along N, one more
    than three sizes pin (``identify``), and the tied one two. The search
    offers it only for such pairs (``identify.tie_pairs``), entangled ones
    included (data grown with model size, ``Space.entangled``): unlike
    ``escale``'s factor, neither power mimics the other's exponent. Features
    in increasing order: the law is symmetric in them up to ``r``.
    """

    name = "tpow"
    accepts = ("log",)

    def n_params(self, feats):
        return 2

    def valid(self, feats, space):
        return len(feats) == 2 and feats[0] < feats[1] and super().valid(feats, space)

    def box(self, feats, space):
        return Box([-4.0, -20.0], [4.0, 20.0], [-1.0, -2.0], [0.3, 2.0], ["alpha", "rho"])

    def evaluate(self, U, feats, th, space):
        i, j = feats
        return _exp(th[0] * U[:, i]) + _exp(th[1] + th[0] * U[:, j])

    def source(self, feats, th, space):
        i, j = feats
        return f"(_exp({th[0]} * u{i}) + _exp({th[1]} + {th[0]} * u{j}))"

    def text(self, feats, p, space):
        i, j = feats
        return (f"(({space.short[i]}/{space.ref[i]:.3g})^{p[0]}"
                f" + exp({p[1]}) * ({space.short[j]}/{space.ref[j]:.3g})^{p[0]})")

    def latex(self, feats, p, space):
        i, j = feats
        a = _ltx_p(p[0])
        return (rf"\left(\left(\frac{{{_ltx_name(space, i)}}}{{{_ltx_num(space.ref[i])}}}\right)^{{{a}}}"
                rf" + e^{{{_ltx_p(p[1])}}} \left(\frac{{{_ltx_name(space, j)}}}{{{_ltx_num(space.ref[j])}}}\right)^{{{a}}}\right)")


def escale_power(ui: np.ndarray, uj: np.ndarray, uj0: float, a: float, k: float) -> np.ndarray:
    """((x_i/x_ref_i) * f)^a for ``ui = ln(x_i/x_ref_i)``, ``uj = ln(x_j/x_ref_j)``,
    ``uj0 = ln(x_j0/x_ref_j)``, all (N,) but ``uj0``, k >= 0.

    The factor is f = 1 + k ln(x_j/x_j0) from x_j0 (the smallest training value)
    up, and (x_j/x_j0)^k below it: the same value and slope at x_j0, positive
    everywhere. The log form alone reaches zero at x_j0 e^(-1/k), a pole of the
    law just below the data that a test row with a smaller x_j (a smaller
    learning rate than any run) falls into. The result is finite for every
    ``a``, ``k``. Self-contained: emitted programs carry a copy of this function.
    """
    d = uj - uj0  # one of the two terms is 0 on every row
    log_factor = np.log1p(k * np.maximum(d, 0.0)) + k * np.minimum(d, 0.0)
    return np.exp(np.clip(a * (ui + log_factor), -50.0, 50.0))


def eff_power(ui: np.ndarray, uj: np.ndarray, shift: float, a: float, log_r: float) -> np.ndarray:
    """(D'/x_ref_D)^a for the effective data D' of Muennighoff et al. (2023).

    ``ui = ln(D/ref_D)``, ``uj = ln(U/ref_U)``, ``shift = ln(ref_U/ref_D)``, all (N,);
    repetitions R = D/U - 1 decay with half-life-like constant r = exp(log_r).
    Self-contained: emitted programs carry a copy of this function.
    """
    rep = np.maximum(np.exp(np.clip(ui - uj - shift, -50.0, 50.0)) - 1.0, 0.0)
    r = np.exp(log_r)
    log_eff = uj + shift + np.log1p(r * -np.expm1(-rep / r))
    return np.exp(np.clip(a * log_eff, -50.0, 50.0))


KINDS: dict[str, Block] = {
    b.name: b for b in (Pow(), Lin(), Sat(), Shift(), LogShift(), ExpMix(), Bowl(), Eff(), Bump(), EffScale(), TiedPow())
}
