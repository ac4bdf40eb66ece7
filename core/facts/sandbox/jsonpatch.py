"""A small RFC 6902 JSON Patch applier: FACTS takes PATCH bodies in this form."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(Exception):
    """The patch document is malformed or does not apply (FACTS answers 400)."""


def _tokens(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    if pointer == "":
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, tokens: list[str], op: str) -> tuple[Any, str]:
    if not tokens:
        raise PatchError(f"'{op}' on the whole document is not supported")
    target = doc
    for token in tokens[:-1]:
        target = _child(target, token)
    return target, tokens[-1]


def _child(target: Any, token: str) -> Any:
    if isinstance(target, dict):
        # FACTS (ASP.NET) matches property names case-insensitively.
        for key in target:
            if key.lower() == token.lower():
                return target[key]
        raise PatchError(f"path segment '{token}' not found")
    if isinstance(target, list):
        try:
            return target[int(token)]
        except (ValueError, IndexError):
            raise PatchError(f"index '{token}' out of range") from None
    raise PatchError(f"path segment '{token}' not found")


def _key(target: dict[str, Any], token: str) -> str:
    for key in target:
        if key.lower() == token.lower():
            return key
    return token


def _add(doc: Any, tokens: list[str], value: Any, op: str) -> None:
    target, last = _parent(doc, tokens, op)
    if isinstance(target, dict):
        target[_key(target, last)] = value
    elif isinstance(target, list):
        index = len(target) if last == "-" else _index(last, len(target) + 1)
        target.insert(index, value)
    else:
        raise PatchError(f"cannot add at '{last}'")


def _index(token: str, bound: int) -> int:
    try:
        index = int(token)
    except ValueError:
        raise PatchError(f"invalid array index '{token}'") from None
    if not 0 <= index < bound:
        raise PatchError(f"index '{token}' out of range")
    return index


def _remove(doc: Any, tokens: list[str], op: str) -> Any:
    target, last = _parent(doc, tokens, op)
    if isinstance(target, dict):
        key = _key(target, last)
        if key not in target:
            raise PatchError(f"path '{last}' not found")
        return target.pop(key)
    if isinstance(target, list):
        return target.pop(_index(last, len(target)))
    raise PatchError(f"cannot remove '{last}'")


def apply_patch(document: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Return a patched deep copy of ``document``; raise :class:`PatchError` if it cannot apply."""
    if not isinstance(patch, list):
        raise PatchError("a JSON Patch document is an array of operations")
    doc = copy.deepcopy(document)
    for operation in patch:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError("each operation needs 'op' and 'path'")
        op = str(operation["op"]).lower()
        tokens = _tokens(operation["path"])
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"'{op}' needs a 'value'")
        if op == "add":
            _add(doc, tokens, copy.deepcopy(operation["value"]), op)
        elif op == "remove":
            _remove(doc, tokens, op)
        elif op == "replace":
            target, last = _parent(doc, tokens, op)
            if isinstance(target, dict):
                target[_key(target, last)] = copy.deepcopy(operation["value"])
            elif isinstance(target, list):
                target[_index(last, len(target))] = copy.deepcopy(operation["value"])
            else:
                raise PatchError(f"cannot replace '{last}'")
        elif op in ("move", "copy"):
            source = _tokens(operation.get("from"))
            value = _remove(doc, source, op) if op == "move" else _get(doc, source)
            _add(doc, tokens, copy.deepcopy(value), op)
        elif op == "test":
            if _get(doc, tokens) != operation["value"]:
                raise PatchError(f"test failed at '{operation['path']}'")
        else:
            raise PatchError(f"unknown op '{op}'")
    return doc


def _get(doc: Any, tokens: list[str]) -> Any:
    target = doc
    for token in tokens:
        target = _child(target, token)
    return target
