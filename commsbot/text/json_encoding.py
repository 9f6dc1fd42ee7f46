"""JSON encoders made once, for values encoded thousands of times a run (a post's
payload, an item's fingerprint).

``json.dumps(value, **options)`` builds an encoder for each call, and even a kept
``JSONEncoder(**options).encode`` builds its C encoder again on every call, with a dict
to find reference cycles in: half the cost of encoding a post's payload (#15). These
values are rows and dicts a run built, which hold no cycles, so the C encoder is made
once, without that dict. The text is the same as ``json.dumps`` gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _stdlib
from typing import Any


def encoder(
    *, ensure_ascii: bool = True, default: Callable[[Any], Any] | None = None
) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=..., default=...)`` as one function, for values
    without reference cycles (a cycle recurses until Python's recursion limit)."""
    stdlib = json.JSONEncoder(ensure_ascii=ensure_ascii, default=default, check_circular=False)
    make = getattr(_stdlib, "c_make_encoder", None)
    if make is None:  # a Python built without the _json accelerator
        return stdlib.encode
    strings = _stdlib.encode_basestring_ascii if ensure_ascii else _stdlib.encode_basestring
    # The arguments JSONEncoder.iterencode gives it: no markers (no cycle check), the
    # default (JSONEncoder's own raises its TypeError), the string encoder, no indent,
    # ": " and ", ", unsorted keys, skipkeys off, NaN allowed.
    encode = make(None, stdlib.default, strings, None, ": ", ", ", False, False, True)

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps
