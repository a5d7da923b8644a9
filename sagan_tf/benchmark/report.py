"""The benchmark's report: every line printed as it comes; benchmark.md and benchmark.json.

A table is given as columns and rows of raw values (dicts keyed by column key): its markdown
lines show each value rendered by its column, and the JSON keeps the values themselves
(floats unrounded, None for 'n/a', lists, booleans). The markdown file is exactly the text
printed; the JSON holds the tables in the same order with `meta` (config path, batch, ...).
"""

import dataclasses
import datetime
import json
import os
from typing import Any, Callable

MD_FILE = "benchmark.md"
JSON_FILE = "benchmark.json"


def fmt(x, digits=1):
  """x with thousands separators and `digits` decimals; 'n/a' for None."""
  return "n/a" if x is None else f"{x:,.{digits}f}"


def number(digits=1, suffix=""):
  """A cell renderer: fmt(x, digits) followed by suffix (e.g. '%'), 'n/a' for None."""
  return lambda x: fmt(x, digits) + ("" if x is None else suffix)


def yes_no(x):
  return "yes" if x else "no"


def joined(values):
  """[1, 3] -> '1, 3'."""
  return ", ".join(str(v) for v in values)


@dataclasses.dataclass(frozen=True)
class Column:
  """A table column: a row's value at `key`, shown under `header` as render(value)."""
  key: str
  header: str
  render: Callable[[Any], str] = str


def markdown_header(columns):
  """The header and |---| lines of a markdown table."""
  return ["| " + " | ".join(c.header for c in columns) + " |", "|" + "---|" * len(columns)]


def markdown_row(columns, row):
  """One markdown table line of a row (a dict with every column's key)."""
  return "| " + " | ".join(c.render(row[c.key]) for c in columns) + " |"


class Table:
  """A table being printed: add() prints a row at once (long runs show rows as they come)."""

  def __init__(self, report, columns, record):
    self._report, self._columns, self._record = report, tuple(columns), record

  def add(self, row):
    self._report.line(markdown_row(self._columns, row))
    self._record["rows"].append({c.key: row[c.key] for c in self._columns})


class Report:
  """Collects the benchmark's output.

  line(text) prints text (through `echo`; None: print nothing) and keeps it for benchmark.md;
  table(...) prints a table's header and keeps the table for benchmark.json; meta: the JSON's
  other keys (it starts with the date, ISO 8601 local time).
  """

  def __init__(self, echo=print):
    self.lines, self.tables = [], []
    self.meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    self._echo = echo

  def line(self, text=""):
    self.lines.append(text)
    if self._echo is not None:
      self._echo(text)

  def table(self, name, columns, rows=(), **info):
    """Prints the header of a table (and `rows`); returns it to add rows. name and info
    (e.g. of='function') label it in the JSON."""
    record = dict(name=name, **info, columns=[dict(key=c.key, header=c.header) for c in columns],
                  rows=[])
    self.tables.append(record)
    for text in markdown_header(columns):
      self.line(text)
    table = Table(self, columns, record)
    for row in rows:
      table.add(row)
    return table

  def markdown(self):
    return "\n".join(self.lines) + "\n"

  def as_json(self):
    return dict(self.meta, tables=self.tables)

  def write(self, out_dir):
    """Writes out_dir/benchmark.md and out_dir/benchmark.json (creating out_dir); returns their
    paths."""
    os.makedirs(out_dir, exist_ok=True)
    md_path, json_path = os.path.join(out_dir, MD_FILE), os.path.join(out_dir, JSON_FILE)
    with open(md_path, "w") as f:
      f.write(self.markdown())
    with open(json_path, "w") as f:
      json.dump(self.as_json(), f, indent=1)
      f.write("\n")
    return md_path, json_path
