"""Turn the LaTeX that abstracts and titles carry into plain Unicode text, once, when a source is
parsed: `69.4\\%` -> `69.4%`, `na\\"ive` -> `naïve`, ``` ``x'' ``` -> `"x"`, `{p}_{\\theta}` -> `p_θ`,
`--` -> `–`, `$O(n)$` -> `O(n)`. It keeps the words and numbers of the text; it does not render mathematics."""

from __future__ import annotations

import re
import unicodedata

# accent commands and the combining mark each puts on the letter that follows
_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328"}
_ACCENT = re.compile(r"\{?\\([\"'`^~=.]|[uvHck](?=[\s{]))\s*(?:\{\s*(\\[ij]|[A-Za-z])\s*\}|(\\[ij]|[A-Za-z]))\}?")
_LETTERS = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
            "eta": "η", "theta": "θ", "vartheta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
            "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ",
            "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
            "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ", "infty": "∞", "times": "×",
            "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "approx": "≈", "sim": "~", "cdot": "·",
            "pm": "±", "in": "∈", "to": "→", "rightarrow": "→", "star": "*", "top": "⊤",
            "eg": "e.g.", "ie": "i.e.", "etal": "et al.", "ldots": "…", "dots": "…", "i": "ı", "j": "ȷ",
            "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "aa": "å", "AA": "Å", "l": "ł", "L": "Ł"}
_ESCAPED = re.compile(r"\\([%&_#$])")
# inline math `$O(n^2)$`: a pair of unescaped dollars hugging their content (so "$5 and $10" stays)
_MATH = re.compile(r"(?<![\\$])\$(?=[^\s$])([^$]*?[^\s$\\])\$(?!\d)")
_FONT = re.compile(r"\\?\b(?:mathcal|mathbf|mathrm|mathsf|mathfrak|mathbb|mathit|boldsymbol|textbf|textit|texttt|"
                   r"textrm|textsc|text|emph|url|href)\s*\{([^{}]*)\}")
_SWITCH = re.compile(r"\\(?:it|bf|sc|em|rm|tt|sl)\b\s*")
_COMMAND = re.compile(r"\\([A-Za-z]+)\b\s?")
_GROUP = re.compile(r"([_^])\{([^{}]*)\}")
_COMPOUND = re.compile(r"[\s+*/,=]")
_QUOTES = re.compile(r"``|''|(?<![A-Za-z])`(?=[A-Za-z])")
_SPACES = re.compile(r"[ \t]{2,}")


def _accent(match: re.Match[str]) -> str:
    letter = match.group(2) or match.group(3)
    base = {"\\i": "i", "\\j": "j"}.get(letter, letter)
    return unicodedata.normalize("NFC", base + _ACCENTS[match.group(1)])


def _command(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _LETTERS:
        return _LETTERS[name] + (" " if match.group(0).endswith(" ") and len(_LETTERS[name]) > 1 else "")
    return name + (" " if match.group(0).endswith(" ") else "")  # an unknown macro keeps its name as a word


def clean(text: str) -> str:
    """`text` with LaTeX escapes, accents, quotes, font commands, braces and `--` dashes made plain.

    Idempotent: cleaning clean text changes nothing."""
    if not any(c in text for c in "\\{}`'-$"):
        return text
    out = _MATH.sub(r"\1", text)
    out = _ESCAPED.sub(r"\1", out)
    out = _ACCENT.sub(_accent, out)
    for _ in range(3):  # nested fonts: \mathcal{\mathbf{x}}
        out = _FONT.sub(r"\1", out)
    out = _SWITCH.sub("", out)
    out = _COMMAND.sub(_command, out)
    for _ in range(3):  # x_{t} -> x_t, x^{2/3} -> x^(2/3)
        out = _GROUP.sub(lambda m: f"{m.group(1)}({m.group(2)})" if _COMPOUND.search(m.group(2))
                         else m.group(1) + m.group(2), out)
    out = out.replace("{", "").replace("}", "")
    out = _QUOTES.sub('"', out)
    out = out.replace("---", "—").replace("--", "–")
    return _SPACES.sub(" ", out).strip()
