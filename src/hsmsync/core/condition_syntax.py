"""Azure role-assignment conditions (ABAC, version 2.0): the parser, from text to a syntax tree.

The subset it reads is described in conditions.py (which evaluates the tree); anything outside it
raises ConditionSyntaxError, which the evaluator turns into "not evaluated", never into allowed.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache


class ConditionSyntaxError(ValueError):
    pass


# ---- tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<attr>@(?:Request|Resource|Principal|Environment)\[[^\]]+\])
    | (?P<set>\{[^{}]*\})
    | (?P<op>&&|\|\||!|\(|\))
    | (?P<word>[A-Za-z][A-Za-z0-9:_.\-]*)
    )""",
    re.VERBOSE | re.IGNORECASE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise ConditionSyntaxError(f"unexpected text at {at}: {text[at : at + 20]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        at = m.end()
    return out


# ---- syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node


@dataclass(frozen=True, slots=True)
class Join:
    op: str  # "and" | "or"
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Matches:
    what: str  # "actionmatches" | "suboperationmatches"
    pattern: str


@dataclass(frozen=True, slots=True)
class Compare:
    attribute: str  # lower-cased
    quantifier: str | None  # "foranyofanyvalues" ... or None
    operator: str  # lower-cased, e.g. "stringequals"
    values: tuple[str, ...]
    is_set: bool


Node = Not | Join | Matches | Compare

_OPERATORS = {
    "stringequals",
    "stringnotequals",
    "stringequalsignorecase",
    "stringnotequalsignorecase",
    "stringstartswith",
    "stringnotstartswith",
    "stringstartswithignorecase",
    "stringnotstartswithignorecase",
    "stringlike",
    "stringnotlike",
    "guidequals",
    "guidnotequals",
}
_QUANTIFIERS = {"foranyofanyvalues", "forallofanyvalues", "foranyofallvalues", "forallofallvalues"}


def _literal(token: str) -> str:
    return token[1:-1].replace("\\'", "'")


def _set_values(token: str) -> tuple[str, ...]:
    inner = token[1:-1].strip()
    if not inner:
        raise ConditionSyntaxError("an empty set")
    out = []
    for part in (p.strip() for p in inner.split(",")):
        if part.startswith("'") and part.endswith("'") and len(part) >= 2:
            out.append(_literal(part))
        elif re.fullmatch(r"[0-9A-Za-z\-]+", part):
            out.append(part)  # GUIDs are written unquoted
        else:
            raise ConditionSyntaxError(f"a set value that is neither quoted nor a GUID: {part!r}")
    return tuple(out)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ConditionSyntaxError("the condition ends too early")
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[1].lower() in words

    def expression(self) -> Node:
        return self._join("or", ("or", "||"), self._and)

    def _and(self) -> Node:
        return self._join("and", ("and", "&&"), self._unary)

    def _join(self, op: str, words: tuple[str, ...], part: Callable[[], Node]) -> Node:
        parts = [part()]
        while self.is_word(*words):
            self.take()
            parts.append(part())
        return parts[0] if len(parts) == 1 else Join(op, tuple(parts))

    def _unary(self) -> Node:
        if self.is_word("!", "not"):
            self.take()
            return Not(self._unary())
        kind, text = self.take()
        if text == "(":
            inner = self.expression()
            if self.take()[1] != ")":
                raise ConditionSyntaxError("a '(' without its ')'")
            return inner
        if kind == "word" and text.lower() in ("actionmatches", "suboperationmatches"):
            following = self.peek()
            values = _set_values(self.take()[1]) if following and following[0] == "set" else ()
            if len(values) != 1:
                raise ConditionSyntaxError(f"{text} takes one quoted value in braces")
            return Matches(text.lower(), values[0])
        if kind == "attr":
            return self._compare(text)
        raise ConditionSyntaxError(f"unexpected {text!r}")

    def _compare(self, attribute: str) -> Compare:
        kind, word = self.take()
        quantifier, _, operator = word.lower().rpartition(":")
        if kind != "word" or operator not in _OPERATORS or (quantifier and quantifier not in _QUANTIFIERS):
            raise ConditionSyntaxError(f"an operator hsmsync does not evaluate: {word!r}")
        kind, value = self.take()
        if kind == "string":
            return Compare(attribute.lower(), quantifier or None, operator, (_literal(value),), False)
        if kind == "set":
            return Compare(attribute.lower(), quantifier or None, operator, _set_values(value), True)
        if kind == "word" and operator.startswith("guid"):
            return Compare(attribute.lower(), quantifier or None, operator, (value,), False)
        raise ConditionSyntaxError(f"{word} needs a quoted value or a set, not {value!r}")


@cache
def parse(text: str) -> Node:
    """The condition's syntax tree; ConditionSyntaxError for anything outside the subset."""
    parser = _Parser(_tokens(text))
    node = parser.expression()
    if (rest := parser.peek()) is not None:
        raise ConditionSyntaxError(f"unexpected {rest[1]!r} after a complete condition")
    return node


def parses(text: str) -> bool:
    try:
        parse(text)
    except ConditionSyntaxError:
        return False
    return True
