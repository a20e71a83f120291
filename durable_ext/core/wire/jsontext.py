"""``json.dumps`` without its set-up on every call.

``json.dumps`` — and ``JSONEncoder.encode`` — build the C encoder object again for every value
(``JSONEncoder.iterencode``): half the cost of writing a history event's small dict, and the
runtime writes a dozen per orchestration step. :func:`text_encoder` builds it once for a set of
options and gives the same text ``json.dumps`` writes with them.

One difference, on purpose: circular references are not looked for (``check_circular=False``).
What is written here are fresh trees of JSON values the runtime built; a cycle would end in a
``RecursionError`` instead of a ``ValueError``.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any


def text_encoder(
    *, separators: tuple[str, str] = (", ", ": "), ensure_ascii: bool = True, allow_nan: bool = True
) -> Callable[[Any], str]:
    """``lambda value: json.dumps(value, separators=…, ensure_ascii=…, allow_nan=…)``, cheaper."""
    reference = json.JSONEncoder(
        separators=separators, ensure_ascii=ensure_ascii, allow_nan=allow_nan, check_circular=False
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: what json.dumps would do anyway
        return reference.encode
    strings = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    item_separator, key_separator = separators
    try:
        # The arguments JSONEncoder.iterencode passes (markers None: no circular check).
        encode = make(None, reference.default, strings, None, key_separator, item_separator, False, False, allow_nan)
    except TypeError:  # another Python's signature: stay correct
        return reference.encode

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


#: ``json.dumps(value)``.
dumps = text_encoder()
#: ``json.dumps(value, separators=(",", ":"))``.
dumps_compact = text_encoder(separators=(",", ":"))
