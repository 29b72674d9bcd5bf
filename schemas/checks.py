"""Compile the catalogue's field rules into flat per-type check lists for the decoder.

Each event type becomes one function `validate(data) -> Problem | None`, generated from
its fields (see `compile_function`); reasons and details are built once here, never per event.
Field names in reasons are paths inside `data` (`order_id`, `page.path`,
`products.quantity`), so they stay a small, bounded set usable as metric labels.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from schemas.catalog import EventType, Field, Kind, RangeWhen
from schemas.timestamps import parse_time_or_none

Problem = tuple[str, str]  # (reason, detail)
Check = Callable[[object], "Problem | None"]
# (field name, check of a present value, problem when absent or None, default or None)
Step = tuple[str, Check, "Problem | None", object]

ABSENT = object()


def run_steps(steps: tuple[Step, ...], obj: dict) -> Problem | None:
    """Check `obj` field by field, filling defaults in place; the first problem wins."""
    get = obj.get
    for name, check, missing, default in steps:
        value = get(name, ABSENT)
        if value is ABSENT:
            if missing is not None:
                return missing
            if default is not None:
                obj[name] = default
            continue
        problem = check(value)
        if problem is not None:
            return problem
    return None


def compile_type(event_type: EventType) -> Callable[[dict], Problem | None]:
    """The validator of one event type's `data`."""
    run = compile_function(event_type.fields, name=event_type.name)
    if not event_type.ranges:
        return run
    ranges = tuple(_compile_range(r) for r in event_type.ranges)

    def validate(data: dict) -> Problem | None:
        problem = run(data)
        if problem is not None:
            return problem
        for when_field, when_value, field, lo, hi, bad in ranges:
            if data.get(when_field) == when_value:
                value = data.get(field)
                if value is not None and not lo <= value <= hi:
                    return bad
        return None

    return validate


def compile_fields(fields: tuple[Field, ...], prefix: str = "") -> tuple[Step, ...]:
    steps = []
    for f in fields:
        path = prefix + f.name
        if f.default is not None and not isinstance(f.default, (str, int, bool)):
            raise TypeError(f"{path}: defaults are shared between events, so must be immutable")
        missing = (f"missing_field:{path}", f"{path} is required") if f.required and f.default is None else None
        steps.append((f.name, _compile_check(f, path), missing, f.default))
    return tuple(steps)


def compile_function(fields: tuple[Field, ...], prefix: str = "", name: str = "fields") -> Callable[[dict], Problem | None]:
    """`run_steps` over `compile_fields(fields, prefix)` as one generated function.

    Every event is checked field by field, so the loop, the tuple unpacking and a call per
    field are worth removing: the simple kinds (strings, enums, booleans) become inline
    tests, the others call their compiled check. Same order, problems and defaults.
    """
    env: dict[str, object] = {"ABSENT": ABSENT}
    lines = ["def validate(obj):", "    get = obj.get"]
    for i, f in enumerate(fields):
        path = prefix + f.name
        _name, check, missing, default = compile_fields((f,), prefix)[0]
        env.update({f"c{i}": check, f"m{i}": missing, f"d{i}": default, f"b{i}": _bad(f, path)})
        lines += [f"    v = get({f.name!r}, ABSENT)", "    if v is ABSENT:"]
        if missing is not None:
            lines.append(f"        return m{i}")
        elif default is not None:
            lines.append(f"        obj[{f.name!r}] = d{i}")
        else:
            lines.append("        pass")
        bad_test = _inline_test(f, i, env)
        if bad_test is not None:
            lines += [f"    elif {bad_test}:", f"        return b{i}"]
        elif f.kind is Kind.OBJECT:
            env[f"c{i}"] = compile_function(f.fields, path + ".", path)
            lines += ["    elif type(v) is not dict:", f"        return b{i}",
                      "    else:", f"        p = c{i}(v)", "        if p is not None:", "            return p"]
        else:
            lines += ["    else:", f"        p = c{i}(v)", "        if p is not None:", "            return p"]
    lines.append("    return None")
    exec(compile("\n".join(lines), f"<checks of {name}>", "exec"), env)  # noqa: S102 (code built from the catalogue only)
    return env["validate"]


def _inline_test(f: Field, i: int, env: dict) -> str | None:
    """A Python expression over `v` that is true when the value is bad, for the simple kinds."""
    kind = f.kind
    if kind is Kind.STRING:
        return "type(v) is not str"
    if kind is Kind.TEXT:
        if f.max_length is None:
            return "type(v) is not str or not v"
        return f"type(v) is not str or not 0 < len(v) <= {int(f.max_length)}"
    if kind is Kind.ENUM:
        env[f"e{i}"] = frozenset(f.values)
        return f"type(v) is not str or v not in e{i}"
    if kind is Kind.BOOLEAN:
        return "type(v) is not bool"
    if kind in (Kind.INTEGER, Kind.NUMBER):  # as `_number_check`
        env[f"lo{i}"] = -math.inf if f.minimum is None else f.minimum
        env[f"hi{i}"] = math.inf if f.maximum is None else f.maximum
        whole = " and v.is_integer()" if kind is Kind.INTEGER else ""
        above = ">" if f.exclusive_minimum else ">="
        return f"not ((type(v) is int or (type(v) is float{whole})) and v {above} lo{i} and v <= hi{i})"
    if kind in (Kind.CURRENCY, Kind.COUNTRY):  # as `_code_check`
        length = 3 if kind is Kind.CURRENCY else 2
        return f"not (type(v) is str and len(v) == {length} and v.isascii() and v.isalpha() and v.isupper())"
    return None


def _bad(f: Field, path: str) -> Problem:
    return f"bad_value:{path}", f"{path} must be {expectation(f)}"


def expectation(f: Field) -> str:
    """What a field's value must be, in words (for rejection details)."""
    kind = f.kind
    if kind is Kind.ENUM:
        return "one of " + ", ".join(f.values)
    if kind in (Kind.INTEGER, Kind.NUMBER):
        word = "an integer" if kind is Kind.INTEGER else "a number"
        lo = "" if f.minimum is None else (f" > {f.minimum:g}" if f.exclusive_minimum else f" >= {f.minimum:g}")
        hi = "" if f.maximum is None else f" <= {f.maximum:g}"
        return word + lo + (" and" if lo and hi else "") + hi
    return {
        Kind.STRING: "a string",
        Kind.TEXT: "a non-empty string" + (f" of at most {f.max_length} chars" if f.max_length else ""),
        Kind.BOOLEAN: "true or false",
        Kind.CURRENCY: "an ISO 4217 code (3 upper-case letters)",
        Kind.COUNTRY: "an ISO 3166-1 alpha-2 code (2 upper-case letters)",
        Kind.TIMESTAMP: "an RFC 3339 time with offset",
        Kind.OBJECT: "an object",
        Kind.OBJECT_LIST: "a list of objects",
    }[kind]


def _compile_range(rule: RangeWhen):
    bad = (f"bad_value:{rule.field}",
           f"{rule.field} must be {rule.minimum}-{rule.maximum} when {rule.when_field} is {rule.when_value}")
    return rule.when_field, rule.when_value, rule.field, rule.minimum, rule.maximum, bad


def _compile_check(f: Field, path: str) -> Check:
    bad = (f"bad_value:{path}", f"{path} must be {expectation(f)}")
    kind = f.kind

    if kind is Kind.STRING:
        return lambda v: None if type(v) is str else bad
    if kind is Kind.TEXT:
        if f.max_length is None:
            return lambda v: None if type(v) is str and v else bad
        n = f.max_length
        return lambda v: None if type(v) is str and 0 < len(v) <= n else bad
    if kind is Kind.ENUM:
        values = frozenset(f.values)
        return lambda v: None if type(v) is str and v in values else bad
    if kind is Kind.BOOLEAN:
        return lambda v: None if type(v) is bool else bad
    if kind is Kind.INTEGER:
        return _number_check(f, bad, integral=True)
    if kind is Kind.NUMBER:
        return _number_check(f, bad, integral=False)
    if kind is Kind.CURRENCY:
        return _code_check(3, bad)
    if kind is Kind.COUNTRY:
        return _code_check(2, bad)
    if kind is Kind.TIMESTAMP:
        return lambda v: None if type(v) is str and parse_time_or_none(v) is not None else bad
    if kind is Kind.OBJECT:
        steps = compile_fields(f.fields, path + ".")
        return lambda v: run_steps(steps, v) if type(v) is dict else bad
    if kind is Kind.OBJECT_LIST:
        return _list_check(compile_fields(f.fields, path + "."), bad)
    raise ValueError(f"{path}: no check for kind {kind}")


def _number_check(f: Field, bad: Problem, integral: bool) -> Check:
    lo = -math.inf if f.minimum is None else f.minimum
    hi = math.inf if f.maximum is None else f.maximum
    exclusive = f.exclusive_minimum

    def check(v):
        t = type(v)  # exact types: bool is a subclass of int but not a number here
        if t is int:
            pass
        elif t is float:
            if integral and not v.is_integer():  # 2.0 is an integer, as in JSON Schema
                return bad
        else:
            return bad
        if (v > lo if exclusive else v >= lo) and v <= hi:
            return None
        return bad

    return check


def _code_check(length: int, bad: Problem) -> Check:
    def check(v):
        if type(v) is str and len(v) == length and v.isascii() and v.isalpha() and v.isupper():
            return None
        return bad

    return check


def _list_check(steps: tuple[Step, ...], bad: Problem) -> Check:
    def check(v):
        if type(v) is not list:
            return bad
        for item in v:
            if type(item) is not dict:
                return bad
            problem = run_steps(steps, item)
            if problem is not None:
                return problem
        return None

    return check
