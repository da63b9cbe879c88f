"""render.simple_table lays a listing out exactly as tabulate's "simple" format did."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from audit_cli import render

_TEXT = st.lists(st.sampled_from(list("ab Z09-_.:/ ") + ["é", "日本", "\u0301", "😀", "True", "False", "1", " x "]),
                 max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(columns=st.integers(1, 6), rows=st.integers(1, 5), data=st.data())
def test_simple_table_is_tabulates_simple_format(columns, rows, data):
    headers = data.draw(st.lists(_TEXT.map(str.strip).filter(bool), min_size=columns, max_size=columns))
    body = [[render._cell(data.draw(_TEXT)) for _ in range(columns)] for _ in range(rows)]
    expected = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True)
    assert "\n".join(render.simple_table(body, headers)) == expected


def test_a_listing_of_long_and_wide_cells_is_laid_out_as_tabulate_did():
    rnd = random.Random(3)
    body = [[render._cell(rnd.choice(["x" * 70, "日本語" * 30, " lead", "tail ", "", "😀 ok", "null"]))
             for _ in range(4)] for _ in range(30)]
    headers = ["id", "timestamp", "action", "comment"]
    assert "\n".join(render.simple_table(body, headers)) == tabulate(body, headers=headers, tablefmt="simple",
                                                                     disable_numparse=True)
