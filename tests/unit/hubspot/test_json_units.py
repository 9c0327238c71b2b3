"""JSON decoding in small units (hubspot/json_units.py): the same values and
errors as json.loads, never one long decode of a whole large answer, and
batch items decoded on demand so a sync holds one flow, not a hundred."""

from __future__ import annotations

import gc
import json
import random

import pytest

from wg_desktop.hubspot import json_units
from wg_desktop.hubspot.json_units import JsonItems


def flow(i: int, actions: int = 40) -> dict:
    return {"id": str(i), "name": f"Flow {i} — «ünïcode» \u2013 \"quoted\"", "isEnabled": i % 2 == 0,
            "revisionId": str(i * 7), "score": i / 3, "nothing": None, "big": 10 ** 30,
            "actions": [{"actionId": str(a), "type": "DELAY", "fields": {"delta": a, "tags": ["x", a]}}
                        for a in range(actions)]}


def batch(n: int = 100, **extra) -> dict:
    return {"status": "COMPLETE", "results": [flow(i) for i in range(n)], **extra}


def big_documents():
    rng = random.Random(3)
    yield json.dumps(batch()).encode()
    yield json.dumps(batch(), indent=2, ensure_ascii=False).encode("utf-8")     # whitespace, UTF-8
    yield json.dumps(flow(1, actions=2000))                                      # str, one big flow
    yield json.dumps([flow(i) for i in range(150)]).encode()                     # top-level array
    yield json.dumps({"results": [], "nested": {"a": [[1, 2], {"b": []}]}, "pad": "x" * 70_000})
    yield (b"\xef\xbb\xbf" + json.dumps(batch()).encode())                       # UTF-8 BOM in bytes
    yield json.dumps(batch()).encode("utf-16")                                    # detected encoding
    yield json.dumps({"k": [rng.random() for _ in range(20_000)], "dup": 1, "dup ": 2}).encode()
    yield b'{"a": 1, "a": 2, "results": [' + b",".join(b'{"x": %d}' % i for i in range(9000)) + b"]}"


@pytest.mark.parametrize("body", list(big_documents()), ids=lambda b: f"{len(b)}B")
def test_large_documents_decode_to_what_json_loads_gives(body):
    assert len(body) >= json_units.UNIT_THRESHOLD
    assert json_units.loads(body) == json.loads(body)


@pytest.mark.parametrize("body", [b'{"a": 1}', b"[]", b"3", b'"x"', b" null ", "{\"é\": [1]}"])
def test_small_documents_take_the_plain_path(body):
    assert json_units.loads(body) == json.loads(body)


def _broken(body: bytes) -> list[bytes | str]:
    return [body[: len(body) // 2],                      # cut off mid-way
            body[:-1],                                   # last brace missing
            body + b" x",                                # extra data
            body.replace(b"}, {", b"}, , {", 1),         # empty element
            body.replace(b'"status": "COMPLETE",', b'"status" "COMPLETE",', 1),
            body.replace(b"]}", b",]}", 1),              # trailing comma
            b"   ",                                      # nothing
            "\ufeff" + body.decode()]                    # BOM in a str


@pytest.mark.parametrize("bad", _broken(json.dumps(batch()).encode()),
                         ids=lambda b: repr(b[-12:]))
@pytest.mark.parametrize("on_demand", [False, True])
def test_what_json_loads_refuses_is_refused(bad, on_demand):
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        json_units.loads(bad, items_on_demand=on_demand)


def test_a_batch_answer_is_decoded_one_flow_at_a_time(monkeypatch):
    """No single decode call covers more than one flow of the answer."""
    body = json.dumps(batch()).encode()
    largest_flow = max(len(json.dumps(f)) for f in batch()["results"])
    spans = []
    real = json_units._decoder.raw_decode

    def recording(text, start):
        value, end = real(text, start)
        spans.append(end - start)
        return value, end

    monkeypatch.setattr(json_units._decoder, "raw_decode", recording)
    assert json_units.loads(body) == json.loads(body)
    assert len(spans) >= 100
    assert max(spans) <= largest_flow < len(body) / 50


def test_items_on_demand_are_checked_at_load_and_decoded_when_asked():
    body = json.dumps(batch(3, errors=[{"message": "gone"}])).encode()
    data = json_units.loads(body, items_on_demand=True)
    assert data["status"] == "COMPLETE"
    assert isinstance(data["results"], JsonItems) and len(data["results"]) == 3
    assert data["results"] == batch(3)["results"] and data["errors"] == [{"message": "gone"}]
    assert data["results"][1] == flow(1) and data["results"][-1] == flow(2)
    assert data["results"][0:2] == [flow(0), flow(1)]
    first, again = data["results"][0], data["results"][0]
    assert first == again and first is not again          # decoded anew: nothing kept
    assert json_units.loads(b'{"results": []}', items_on_demand=True) == {"results": []}
    assert json_units.loads(b"[1, 2]", items_on_demand=True) == [1, 2]   # not an object: as is


def test_items_on_demand_keep_no_parsed_flows_alive():
    """A 100-flow answer held on demand adds a handful of tracked objects, not
    the ~10,000 dicts and lists every garbage collection would walk."""
    body = json.dumps(batch()).encode()
    gc.collect()
    before = len(gc.get_objects())
    eager = json.loads(body)
    eager_objects = len(gc.get_objects()) - before
    del eager
    gc.collect()
    before = len(gc.get_objects())
    lazy = json_units.loads(body, items_on_demand=True)
    lazy_objects = len(gc.get_objects()) - before
    assert len(lazy["results"]) == 100
    assert eager_objects > 5_000 and lazy_objects < 20
