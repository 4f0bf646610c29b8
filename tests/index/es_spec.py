"""A validator for Elasticsearch requests and responses against Elastic's own API specification.

The specification (``tests/fixtures/es_spec/schema-extract.json``, a reduced extract of
elastic/elasticsearch-specification's compiled schema; provenance in that folder's README) describes every
endpoint's URLs and methods, query parameters, request body and response body in a small metamodel:
interfaces (properties, inheritance, generics, behaviours such as "one additional field-named property"),
containers (exactly one variant key), internally tagged unions (``type: ...``), enums, aliases, arrays,
dictionaries, unions and literals. This module walks a value against a type of that metamodel and
returns every mismatch with its JSON path: an unknown field, a missing required one, a wrong type, a
value outside an enum or literal, a container with no or several variants, a URL no endpoint has.

Deliberately strict where the specification is precise, lenient only where it says anything goes
(``user_defined_value``, unbound generics such as a document's ``TDocument``, ``AdditionalProperties``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

EXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "es_spec" / "schema-extract.json"

_INTS = {"integer", "long", "short", "byte", "uint", "ulong"}
_Key = tuple[str, str]
_Env = Mapping[_Key, tuple[dict, "Mapping[_Key, Any]"]]


class SpecError(AssertionError):
    """The value does not conform; ``errors`` lists ``path: reason`` lines."""

    def __init__(self, what: str, errors: list[str]) -> None:
        super().__init__(f"{what} does not match the Elasticsearch specification:\n  " + "\n  ".join(errors))
        self.errors = errors


@dataclass
class Spec:
    """The extract, indexed: types by (namespace, name) and endpoints by name."""

    types: dict[_Key, dict]
    endpoints: dict[str, dict]
    info: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = EXTRACT) -> Spec:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(types={(t["name"]["namespace"], t["name"]["name"]): t for t in data["types"]},
                   endpoints={e["name"]: e for e in data["endpoints"]}, info=data.get("_info", {}))

    # ------------------------------------------------------------------ values against types
    def check(self, value: Any, ref: dict, path: str = "$", env: _Env | None = None) -> list[str]:
        """Every mismatch of ``value`` against the type reference ``ref`` (empty: it conforms)."""
        return list(self._value(value, ref, path, env or {}))

    def check_type(self, value: Any, namespace: str, name: str, path: str = "$") -> list[str]:
        return self.check(value, {"kind": "instance_of", "type": {"namespace": namespace, "name": name}}, path)

    def _value(self, v: Any, ref: dict, path: str, env: _Env) -> Iterator[str]:
        kind = ref["kind"]
        if kind == "user_defined_value":
            return
        if kind == "literal_value":
            if v != ref["value"] or type(v) is not type(ref["value"]):
                yield f"{path}: {v!r} is not the literal {ref['value']!r}"
        elif kind == "array_of":
            if not isinstance(v, list):
                yield f"{path}: expected an array, got {_kind(v)}"
                return
            for i, item in enumerate(v):
                yield from self._value(item, ref["value"], f"{path}[{i}]", env)
        elif kind == "dictionary_of":
            if not isinstance(v, dict):
                yield f"{path}: expected an object (dictionary), got {_kind(v)}"
                return
            if ref.get("singleKey") and len(v) != 1:
                yield f"{path}: expected exactly one key, got {len(v)}"
            for k, item in v.items():
                yield from self._value(k, ref["key"], f"{path}.<key {k}>", env)
                yield from self._value(item, ref["value"], f"{path}.{k}", env)
        elif kind == "union_of":
            yield from self._union(v, ref["items"], path, env)
        elif kind == "instance_of":
            yield from self._instance(v, ref, path, env)
        else:  # pragma: no cover - a metamodel kind this validator does not know
            yield f"{path}: unsupported type kind {kind!r}"

    def _union(self, v: Any, items: list[dict], path: str, env: _Env) -> Iterator[str]:
        failures = []
        for item in items:
            errs = list(self._value(v, item, path, env))
            if not errs:
                return
            failures.append(errs)
        # the closest alternative explains the mismatch best: one whose shape fits (errors deeper down)
        best = min(failures, key=lambda errs: (all(e.startswith(path + ":") for e in errs), len(errs)))
        yield f"{path}: matches none of {len(items)} alternatives; closest: " + "; ".join(best[:3])

    def _instance(self, v: Any, ref: dict, path: str, env: _Env) -> Iterator[str]:
        ns, name = ref["type"]["namespace"], ref["type"]["name"]
        if (ns, name) in env:
            bound, bound_env = env[(ns, name)]
            if bound is None:
                return  # an unbound generic (a document): anything
            yield from self._value(v, bound, path, bound_env)
            return
        if ns == "_builtins":
            yield from _builtin(v, name, path)
            return
        if ns == "_types" and name in _INTS:
            if not isinstance(v, int) or isinstance(v, bool):
                yield f"{path}: expected an integer ({name}), got {_kind(v)} {v!r}"
            return
        t = self.types.get((ns, name))
        if t is None:
            if "." in ns and ns.split(".")[-1][:1].isupper():
                return  # generic parameter of a type reached without binding (e.g. TDocument): anything
            yield f"{path}: type {ns}:{name} is not in the extract (run reduce.py with its endpoint)"
            return
        local = dict(env)
        for param, arg in zip(t.get("generics", []), ref.get("generics", [])):
            local[(param["namespace"], param["name"])] = (arg, env)
        for param in t.get("generics", [])[len(ref.get("generics", [])):]:
            local[(param["namespace"], param["name"])] = (None, {})
        yield from self._typed(v, t, path, local)

    def _typed(self, v: Any, t: dict, path: str, env: _Env) -> Iterator[str]:
        kind = t["kind"]
        if kind == "type_alias":
            variants = t.get("variants") or {}
            if variants.get("kind") == "internal_tag" and isinstance(v, dict):
                yield from self._tagged(v, t, variants, path, env)
            else:
                yield from self._value(v, t["type"], path, env)
        elif kind == "enum":
            names = {m["name"] for m in t["members"]} | {a for m in t["members"] for a in m.get("aliases", [])}
            if isinstance(v, bool) and {"true", "false"} & names:
                v = str(v).lower()
            if not isinstance(v, str) or v not in names:
                if not t.get("isOpen"):
                    yield f"{path}: {v!r} is not one of {sorted(names)} ({t['name']['name']})"
        elif kind == "interface":
            yield from self._interface(v, t, path, env)
        else:  # pragma: no cover
            yield f"{path}: cannot validate a {kind} type here"

    def _tagged(self, v: dict, t: dict, variants: dict, path: str, env: _Env) -> Iterator[str]:
        tag = variants["tag"]
        value = v.get(tag, variants.get("defaultTag"))
        for item in t["type"]["items"]:
            member = self.types.get((item["type"]["namespace"], item["type"]["name"]))
            if member is None:
                continue
            literal = next((p["type"].get("value") for p in self._properties(member, env)[0] if p["name"] == tag), None)
            if literal == value:
                yield from self._value(v, item, path, env)
                return
        yield f"{path}.{tag}: {value!r} is not a known {t['name']['name']} {tag}"

    def _properties(self, t: dict, env: _Env) -> tuple[list[dict], list[dict]]:
        """(properties including inherited ones, behaviours) of an interface."""
        props = list(t.get("properties", []))
        behaviors = list(t.get("behaviors", []))
        parent = t.get("inherits")
        if parent:
            pt = self.types.get((parent["type"]["namespace"], parent["type"]["name"]))
            if pt is not None:
                params = [(g["namespace"], g["name"]) for g in pt.get("generics", [])]
                pt = _bind(pt, dict(zip(params, parent.get("generics", []))))
                pp, pb = self._properties(pt, env)
                props, behaviors = pp + props, pb + behaviors
        return props, behaviors

    def _interface(self, v: Any, t: dict, path: str, env: _Env) -> Iterator[str]:
        props, behaviors = self._properties(t, env)
        shortcut = t.get("shortcutProperty")
        if not isinstance(v, dict):
            prop = next((p for p in props if p["name"] == shortcut), None) if shortcut else None
            if prop is not None:
                yield from self._value(v, prop["type"], path, env)
            else:
                yield f"{path}: expected an object ({t['name']['name']}), got {_kind(v)} {v!r}"
            return
        by_name = {}
        for p in props:
            by_name[p["name"]] = p
            for alias in p.get("aliases", []):
                by_name[alias] = p
        extra_any = extra_one = None
        for b in behaviors:
            bname = b["type"]["name"]
            if bname == "AdditionalProperties":
                extra_any = b["generics"][1]
            elif bname == "AdditionalProperty":
                extra_one = b["generics"][1]
        container = (t.get("variants") or {}).get("kind") == "container"
        unknown = [k for k in v if k not in by_name]
        if extra_one is not None:
            if len(unknown) != 1:
                yield f"{path}: expected exactly one field-named entry, got {unknown or 'none'}"
            for k in unknown:
                yield from self._value(v[k], extra_one, f"{path}.{k}", env)
        elif extra_any is not None:
            for k in unknown:
                yield from self._value(v[k], extra_any, f"{path}.{k}", env)
        else:
            for k in unknown:
                yield f"{path}.{k}: unknown field (not in {t['name']['name']})"
        present = {by_name[k]["name"] for k in v if k in by_name}
        if container:
            variant_keys = [k for k in v if k in by_name and not by_name[k].get("containerProperty")]
            if len(variant_keys) != 1 and extra_one is None:
                yield f"{path}: {t['name']['name']} needs exactly one of its variants, got {variant_keys or 'none'}"
        else:
            for p in props:
                if p.get("required") and p["name"] not in present:
                    yield f"{path}.{p['name']}: required field missing ({t['name']['name']})"
        for k, item in v.items():
            if k in by_name:
                yield from self._value(item, by_name[k]["type"], f"{path}.{k}", env)

    # ------------------------------------------------------------------ requests
    def endpoint_for(self, method: str, url_path: str) -> tuple[dict, dict[str, str]]:
        """The endpoint (and its path parts) serving ``method url_path``; SpecError if none does."""
        for e in self.endpoints.values():
            for u in e["urls"]:
                if method in u["methods"]:
                    m = re.fullmatch(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(u["path"])), url_path)
                    if m:
                        return e, m.groupdict()
        raise SpecError(f"{method} {url_path}", [f"no endpoint of the specification serves {method} {url_path}"])

    def check_request(self, method: str, url: str, body: Any = None) -> dict:
        """Validate one HTTP request (path, query string, body); return its endpoint, raise SpecError."""
        parts = urlsplit(url)
        endpoint, _ = self.endpoint_for(method, parts.path)
        req = self.types[(endpoint["request"]["namespace"], endpoint["request"]["name"])]
        errors: list[str] = []
        query = {p["name"]: p for p in req.get("query", [])}
        common = self.types[("_spec_utils", "CommonQueryParameters")]["properties"]
        query.update({p["name"]: p for p in common})
        for key, raw in parse_qsl(parts.query, keep_blank_values=True):
            if key not in query:
                errors.append(f"?{key}: unknown query parameter of {endpoint['name']}")
                continue
            errors += self.check(_query_value(raw, query[key]["type"], self), query[key]["type"], f"?{key}")
        env: dict = {(g["namespace"], g["name"]): (None, {}) for g in req.get("generics", [])}
        spec_body = req.get("body", {"kind": "no_body"})
        if spec_body["kind"] == "no_body":
            if body not in (None, b"", "", {}):
                errors.append(f"$: {endpoint['name']} takes no body")
        elif body is not None:
            if spec_body["kind"] == "properties":
                fake = {"kind": "interface", "name": {"namespace": "body", "name": f"{endpoint['name']} body"},
                        "properties": spec_body["properties"]}
                errors += list(self._interface(body, fake, "$", env))
            elif endpoint["name"] == "bulk":
                errors += self._bulk(body, env)
            else:
                errors += list(self._value(body, spec_body["value"], "$", env))
        elif endpoint.get("requestBodyRequired"):
            errors.append(f"$: {endpoint['name']} needs a body")
        if errors:
            raise SpecError(f"{method} {url}", errors)
        return endpoint

    def _bulk(self, lines: list[Any], env: _Env) -> list[str]:
        """NDJSON bulk: an OperationContainer, then (index/create) a document or (update) an UpdateAction."""
        errors: list[str] = []
        i = 0
        while i < len(lines):
            action = lines[i]
            errors += self.check_type(action, "_global.bulk", "OperationContainer", f"$[{i}]")
            op = next(iter(action), None) if isinstance(action, dict) else None
            if op in ("index", "create"):
                if i + 1 >= len(lines) or not isinstance(lines[i + 1], dict):
                    errors.append(f"$[{i + 1}]: {op} needs a document line")
                i += 2
            elif op == "update":
                errors += self.check(lines[i + 1] if i + 1 < len(lines) else None,
                                     {"kind": "instance_of", "type": {"namespace": "_global.bulk", "name": "UpdateAction"}},
                                     f"$[{i + 1}]")
                i += 2
            else:
                i += 1
        return errors

    def check_response(self, endpoint: str, body: Any) -> None:
        """Validate a response body against the endpoint's response type; raise SpecError."""
        e = self.endpoints[endpoint]
        resp = self.types[(e["response"]["namespace"], e["response"]["name"])]
        env: dict = {(g["namespace"], g["name"]): (None, {}) for g in resp.get("generics", [])}
        spec_body = resp["body"]
        if spec_body["kind"] == "properties":
            fake = {"kind": "interface", "name": {"namespace": "body", "name": f"{endpoint} response"},
                    "properties": spec_body["properties"]}
            errors = list(self._interface(body, fake, "$", env))
        elif spec_body["kind"] == "value":
            errors = list(self._value(body, spec_body["value"], "$", env))
        else:
            errors = [] if body in (None, b"", "") else ["$: this response has no body"]
        if errors:
            raise SpecError(f"{endpoint} response", errors)

    def assert_exchanges_conform(self, requests: list[tuple[str, str, Any]],
                                 answers: list[tuple[str, str, Any]]) -> set[str]:
        """Check recorded ``(method, url, body)`` requests and ``(method, url, payload)`` successful answers;
        raise SpecError listing the first ten mismatches; return the endpoints the requests used."""
        seen: set[str] = set()
        errors: list[str] = []
        for method, url, body in requests:
            try:
                seen.add(self.check_request(method, url, body)["name"])
            except SpecError as exc:
                errors.append(str(exc))
        for method, url, payload in answers:
            endpoint = self.endpoint_for(method, url.split("?", 1)[0])[0]["name"]
            try:
                self.check_response(endpoint, payload)
            except SpecError as exc:
                errors.append(f"(the answer) {exc}")
        if errors:
            raise SpecError(f"{len(errors)} exchanges", errors[:10])
        return seen

    # ------------------------------------------------------------------ fields our code reads
    def response_has(self, endpoint: str, path: str) -> bool:
        """Whether the response type of ``endpoint`` has the field path ``a.b[].c`` (``*`` = any key).

        Unions and aliases are followed into every alternative; a path exists if any alternative has it."""
        e = self.endpoints[endpoint]
        resp = self.types[(e["response"]["namespace"], e["response"]["name"])]
        body = resp["body"]
        start = ({"kind": "_props", "properties": body["properties"]} if body["kind"] == "properties"
                 else body["value"])
        return self._has(start, _steps(path), depth=0)

    def type_has(self, namespace: str, name: str, path: str) -> bool:
        """Whether the type ``namespace:name`` has the field path ``path`` (as :meth:`response_has`)."""
        return self._has({"kind": "instance_of", "type": {"namespace": namespace, "name": name}}, _steps(path), 0)

    def _has(self, ref: dict, steps: list[str], depth: int) -> bool:
        key = (json.dumps(ref, sort_keys=True), tuple(steps))
        memo = self.__dict__.setdefault("_has_memo", {})
        if key not in memo:
            memo[key] = False  # a cycle back to this (type, path) adds nothing
            memo[key] = self._has_uncached(ref, steps, depth)
        return memo[key]

    def _has_uncached(self, ref: dict, steps: list[str], depth: int) -> bool:
        if not steps:
            return True
        kind = ref["kind"]
        step = steps[0]
        if kind == "_props":
            return any((p["name"] == step or step in p.get("aliases", [])) and self._has(p["type"], steps[1:], depth + 1)
                       for p in ref["properties"])
        if kind == "union_of":
            return any(self._has(item, steps, depth + 1) for item in ref["items"])
        if kind == "array_of":
            return step == "[]" and self._has(ref["value"], steps[1:], depth + 1)
        if kind == "dictionary_of":
            return (step == "*" or not self.check(step, ref["key"])) and self._has(ref["value"], steps[1:], depth + 1)
        if kind == "user_defined_value":
            return True
        if kind != "instance_of":
            return False
        t = self.types.get((ref["type"]["namespace"], ref["type"]["name"]))
        if t is None:
            return False  # a builtin has no fields; an unbound generic is not ours to read into
        params = [(g["namespace"], g["name"]) for g in t.get("generics", [])]
        t = _bind(t, dict(zip(params, ref.get("generics", []))))
        if t["kind"] == "type_alias":
            return self._has(t["type"], steps, depth + 1)
        if t["kind"] == "interface":
            props, behaviors = self._properties(t, {})
            if any((p["name"] == step or step in p.get("aliases", [])) and self._has(p["type"], steps[1:], depth + 1)
                   for p in props):
                return True
            # a key the type does not name (``*``, or one we chose such as a sub-aggregation's name)
            # (a misspelt leaf is not saved by it: only ``*`` or a key we read further into)
            return (step == "*" or len(steps) > 1) and any(
                self._has(b["generics"][1], steps[1:], depth + 1) for b in behaviors
                if b["type"]["name"] in ("AdditionalProperties", "AdditionalProperty"))
        return False


def _bind(node: Any, bound: dict[_Key, dict]) -> Any:
    """``node`` with references to the generic parameters in ``bound`` replaced by their arguments."""
    if not bound:
        return node
    if isinstance(node, dict):
        if node.get("kind") == "instance_of":
            k = (node["type"]["namespace"], node["type"]["name"])
            if k in bound:
                return bound[k]
        return {k: _bind(v, bound) for k, v in node.items()}
    if isinstance(node, list):
        return [_bind(v, bound) for v in node]
    return node


def _steps(path: str) -> list[str]:
    """``hits.hits[]._source`` → ``["hits", "hits", "[]", "_source"]``."""
    return re.findall(r"\[\]|[^.\[\]]+", path)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _builtin(v: Any, name: str, path: str) -> Iterator[str]:
    ok = {"string": isinstance(v, str), "boolean": isinstance(v, bool), "null": v is None,
          "number": isinstance(v, (int, float)) and not isinstance(v, bool),
          "binary": isinstance(v, (str, bytes)), "void": v is None}.get(name)
    if ok is None:
        yield f"{path}: unknown builtin {name}"
    elif not ok:
        yield f"{path}: expected {name}, got {_kind(v)} {v!r}"


def _query_value(raw: str, ref: dict, spec: Spec) -> Any:
    """A query-string value as the JSON value the parameter's type describes (booleans, numbers, lists)."""
    def base(r: dict) -> set[str]:
        if r["kind"] == "union_of":
            return set().union(*(base(i) for i in r["items"]))
        if r["kind"] == "array_of":
            return {"array"}
        if r["kind"] != "instance_of":
            return {"string"}
        ns, name = r["type"]["namespace"], r["type"]["name"]
        if ns == "_types" and name in _INTS:
            return {"int"}
        if ns == "_builtins":
            return {name}
        t = spec.types.get((ns, name))
        if t is not None and t["kind"] == "type_alias":
            return base(t["type"])
        return {"string"}

    kinds = base(ref)
    if "boolean" in kinds and raw in ("true", "false", ""):
        return raw != "false"  # a bare flag (``?refresh``) means true
    if "int" in kinds and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if "number" in kinds and re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return float(raw)
    if "array" in kinds and "," in raw and "string" not in kinds:
        return raw.split(",")
    return raw
