"""The language table, tree-sitter units and the languages API, on the real grammar wheels.

Each language gets a small real-looking file written here; its units are checked by kind
and name (the unit model of units.py: functions, methods with their class header, class
bodies, one imports unit, module groups by contiguity, blocks only where nothing parses).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kaizen.core.language_table import ENTRIES
from kaizen.core.workspace import LANGUAGES, language_of
from kaizen.languages import entry_for, grammars, outline, syntax_ok, trees
from kaizen.languages.parsed import parse
from kaizen.languages.units import unit_hash

TS = """import { roundPrice } from "./util";
import * as fs from "fs";

const TAX = 0.2;
let count = 0;

/** Sum of the prices. */
export function total(items: Item[]): number {
  return items.reduce((a, i) => a + roundPrice(i.price), 0) * (1 + TAX);
}

export const log = (msg: string): void => {
  fs.appendFileSync("log.txt", msg);
};

export class Cart {
  private items: Item[] = [];

  add(item: Item): void {
    this.items.push(item);
  }

  get size(): number {
    return this.items.length;
  }
}

interface Item {
  price: number;
}

count += 1;
"""

FILES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "javascript": ("app.jsx", """const path = require("path");
import React from "react";

export function App({ name }) {
  return <div className="app">{name}</div>;
}

class Store {
  constructor() {
    this.items = [];
  }
  add(item) {
    this.items.push(item);
  }
}

const handler = async (req) => {
  return path.join("/", req.url);
};
App.defaultProps = { name: "x" };
""", [("imports", "<imports>"), ("function", "App"), ("class", "Store"),
      ("method", "Store.constructor"), ("method", "Store.add"), ("function", "handler"),
      ("module", "<module App.defaultProps = { name: \"x\" };>")]),
    "go": ("cart.go", """package cart

import (
\t"fmt"
\tu "example.com/shop/util"
)

// Cart holds the items of one order.
type Cart struct {
\tItems []int
}

const Tax = 2

// Total sums the items.
func (c *Cart) Total() int {
\tsum := 0
\tfor _, i := range c.Items {
\t\tsum += u.RoundPrice(i)
\t}
\treturn sum
}

func Describe(c Cart) string {
\treturn fmt.Sprintf("%d items", len(c.Items))
}
""", [("imports", "<imports>"), ("class", "Cart"), ("module", "<module const Tax = 2>"),
      ("method", "Cart.Total"), ("function", "Describe")]),
    "rust": ("cart.rs", """use std::fmt;
use crate::util::{round_price, Money as M};

/// A shopping cart.
#[derive(Debug)]
pub struct Cart {
    items: Vec<u32>,
}

impl Cart {
    pub fn total(&self) -> u32 {
        self.items.iter().map(|i| round_price(*i)).sum()
    }
}

impl fmt::Display for Cart {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} items", self.items.len())
    }
}

const TAX: u32 = 2;

fn main() {
    let c = Cart { items: vec![1, 2] };
    println!("{}", c);
}
""", [("imports", "<imports>"), ("class", "Cart"), ("class", "impl Cart"),
      ("method", "impl Cart.total"), ("class", "impl fmt::Display for Cart"),
      ("method", "impl fmt::Display for Cart.fmt"), ("module", "<module const TAX: u32 = 2;>"),
      ("function", "main")]),
    "java": ("Cart.java", """package com.acme.shop;

import java.util.List;
import java.util.ArrayList;

/** A shopping cart. */
public class Cart {
    private final List<Integer> items = new ArrayList<>();

    public Cart() {
    }

    @Override
    public String toString() {
        return "Cart(" + items.size() + ")";
    }

    public int total() {
        int sum = 0;
        for (int i : items) {
            sum += i;
        }
        return sum;
    }
}
""", [("imports", "<imports>"), ("class", "Cart"), ("method", "Cart.Cart"),
      ("method", "Cart.toString"), ("method", "Cart.total")]),
    "c": ("cart.c", """#include <stdio.h>
#include "cart.h"

static int counter = 0;

struct cart {
    int items[16];
    int count;
};

/* Sum of the items. */
int cart_total(const struct cart *c) {
    int sum = 0;
    for (int i = 0; i < c->count; i++) sum += c->items[i];
    return sum;
}

char *cart_name(void) {
    return "cart";
}
""", [("imports", "<imports>"), ("module", "<module static int counter = 0;>"),
      ("class", "cart"), ("function", "cart_total"), ("function", "cart_name")]),
    "cpp": ("cart.cpp", """#include <vector>
#include "cart.hpp"

namespace shop {

class Cart {
 public:
  int total() const {
    int sum = 0;
    for (int i : items_) sum += i;
    return sum;
  }

 private:
  std::vector<int> items_;
};

template <typename T>
T largest(T a, T b) {
  return a > b ? a : b;
}

}  // namespace shop

int main() {
  shop::Cart c;
  return c.total();
}
""", [("imports", "<imports>"), ("module", "shop"), ("class", "shop.Cart"),
      ("method", "shop.Cart.total"), ("function", "shop.largest"), ("function", "main")]),
    "csharp": ("Cart.cs", """using System;
using System.Collections.Generic;

namespace Shop
{
    public class Cart
    {
        private readonly List<int> items = new List<int>();

        public int Total()
        {
            var sum = 0;
            foreach (var i in items) sum += i;
            return sum;
        }
    }
}
""", [("imports", "<imports>"), ("module", "Shop"), ("class", "Shop.Cart"),
      ("method", "Shop.Cart.Total")]),
    "ruby": ("cart.rb", """require 'json'
require_relative 'util'

# A shopping cart.
class Cart
  attr_reader :items

  def initialize
    @items = []
  end

  def total
    items.sum
  end
end

def main
  puts Cart.new.total
end

main
""", [("imports", "<imports>"), ("class", "Cart"), ("method", "Cart.initialize"),
      ("method", "Cart.total"), ("function", "main"), ("module", "<module main>")]),
    "php": ("Cart.php", """<?php
namespace App\\Shop;

use App\\Util\\Price;

class Cart
{
    private array $items = [];

    public function total(): int
    {
        return array_sum($this->items);
    }
}

function describe(Cart $c): string
{
    return Price::format($c->total());
}
""", [("module", "<module <?php>"), ("imports", "<imports>"), ("class", "Cart"),
      ("method", "Cart.total"), ("function", "describe")]),
    "kotlin": ("Cart.kt", """package com.acme.shop

import kotlin.math.max

class Cart(private val items: MutableList<Int>) {
    val size: Int
        get() = items.size

    fun total(): Int {
        return items.sum()
    }
}

fun largest(a: Int, b: Int): Int {
    return max(a, b)
}
""", [("imports", "<imports>"), ("class", "Cart"), ("method", "Cart.total"),
      ("function", "largest")]),
    "bash": ("deploy.sh", """#!/bin/bash
set -euo pipefail
source ./lib.sh

# Build the image.
build() {
  docker build -t app .
}

deploy() {
  build
  kubectl apply -f k8s/
}

deploy "$@"
""", [("module", "<module #!/bin/bash>"), ("imports", "<imports>"), ("function", "build"),
      ("function", "deploy"), ("module", "<module deploy \"$@\">")]),
}


def kinds_and_names(text: str, language: str) -> list[tuple[str, str]]:
    return [(u.kind, u.name) for u in parse(text, language).units]


def test_typescript_units_by_definition() -> None:
    units = parse(TS, "typescript").units
    assert [(u.kind, u.name) for u in units] == [
        ("imports", "<imports>"),
        ("module", "<module const TAX = 0.2;>"),
        ("function", "total"),
        ("function", "log"),
        ("class", "Cart"),
        ("method", "Cart.add"),
        ("method", "Cart.size"),
        ("class", "Item"),
        ("module", "<module count += 1;>"),
    ]
    by_name = {u.name: u for u in units}
    assert by_name["total"].lines[0] == 7  # its doc comment goes with it
    assert by_name["Cart.add"].header == "export class Cart"
    assert "this.items.push" in by_name["Cart.add"].text
    assert "add(item" not in by_name["Cart"].text  # the class unit holds no method body
    assert {"roundPrice", "TAX"} <= by_name["total"].names
    # every non-blank line is in exactly one unit
    covered = [n for u in units for n in u.lines]
    assert len(covered) == len(set(covered))
    assert {n for n, line in enumerate(TS.splitlines(), 1) if line.strip()} <= set(covered)


@pytest.mark.parametrize("language", sorted(FILES))
def test_units_in_every_language(language: str) -> None:
    _name, text, expected = FILES[language]
    assert kinds_and_names(text, language) == expected


def test_tsx_is_its_own_language_with_jsx() -> None:
    text = "export function App() {\n  return <div>{1}</div>;\n}\n"
    assert syntax_ok("tsx", text) is True
    assert syntax_ok("typescript", text) is False  # the plain TypeScript grammar has no JSX
    assert kinds_and_names(text, "tsx") == [("function", "App")]


def test_inserting_lines_above_changes_no_name_or_hash() -> None:
    before = {u.name: unit_hash(u) for u in parse(TS, "typescript").units}
    moved = TS.replace("let count = 0;\n", "let count = 0;\n\n\n// moved down\n\n")
    after = {u.name: unit_hash(u) for u in parse(moved, "typescript").units}
    changed = {n for n in before if before[n] != after.get(n)}
    assert changed == set()  # the comment after a blank line is a group of its own
    assert set(after) - set(before) == {"<module // moved down>"}


def test_table_has_one_entry_per_language_and_maps_paths_and_ids() -> None:
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))
    assert language_of(Path("a/b.tsx")) == "tsx"
    assert language_of(Path("x.ts"), "typescriptreact") == "tsx"
    assert language_of(Path("deploy"), "shellscript") == "bash"
    assert language_of(Path("Rakefile")) == "ruby"
    assert language_of(Path("notes.txt"), "plaintext") == "text"
    assert language_of(Path("x.vue"), "vue") == "vue"
    assert LANGUAGES[".go"] == "go"
    assert entry_for("src/app.tsx").name == "tsx"
    assert entry_for("javascriptreact").name == "javascript"
    assert entry_for("python").linters == ("ruff",)
    assert entry_for("typescript").linters == entry_for("jsx.jsx").linters == ("oxlint",)
    assert entry_for("bash").linters == ("shellcheck",)
    assert entry_for("cobol") is None


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.grammar], ids=lambda e: e.name)
def test_every_grammar_and_query_loads(entry) -> None:
    assert grammars.language(entry) is not None
    assert grammars.query(entry) is not None


def test_syntax_ok() -> None:
    assert syntax_ok("typescript", TS) is True
    assert syntax_ok("typescript", "function f( {\n") is False
    assert syntax_ok("go", "package x\nfunc f() { return }\n") is True
    assert syntax_ok("rust", "fn f() -> u32 { 1 \n") is False  # MISSING "}"
    assert syntax_ok("swift", "func f() {}") is None  # known language, no grammar
    assert syntax_ok("cobol", "x") is None


def test_outline_typescript() -> None:
    found = outline("typescript", TS)
    total = next(d for d in found.definitions if d.qualified == "total")
    assert total.signature == "export function total(items: Item[]): number"
    assert total.doc == "Sum of the prices."
    assert (total.kind, total.start, total.end, total.parent) == ("function", 8, 10, "")
    add = next(d for d in found.definitions if d.qualified == "Cart.add")
    assert (add.kind, add.parent, add.signature) == ("method", "Cart", "add(item: Item): void")
    assert [(i.spec, i.names, i.line) for i in found.imports] == [
        ("./util", (("roundPrice", ""),), 1),
        ("fs", (("*", "fs"),), 2),
    ]
    reexports = outline("typescript", 'export { a as b } from "./re";\nexport * from "./all";\n')
    assert [(i.spec, i.names, i.reexport) for i in reexports.imports] == [
        ("./re", (("a", "b"),), True),
        ("./all", (), True),
    ]


@pytest.mark.parametrize(
    ("language", "specs"),
    [
        ("go", ["fmt", "example.com/shop/util"]),
        ("rust", ["std::fmt", "crate::util"]),
        ("java", ["java.util.List", "java.util.ArrayList"]),
        ("c", ["stdio.h", "cart.h"]),
        ("cpp", ["vector", "cart.hpp"]),
        ("csharp", ["System", "System.Collections.Generic"]),
        ("ruby", ["json", "util"]),
        ("php", ["App\\Util\\Price"]),
        ("kotlin", ["kotlin.math.max"]),
        ("bash", ["./lib.sh"]),
        ("javascript", ["path", "react"]),
    ],
)
def test_outline_imports_as_written(language: str, specs: list[str]) -> None:
    assert [i.spec for i in outline(language, FILES[language][1]).imports] == specs


def test_outline_names_and_aliases() -> None:
    rust = outline("rust", FILES["rust"][1]).imports[1]
    assert rust.names == (("round_price", ""), ("Money", "M"))
    go = outline("go", FILES["go"][1]).imports[1]
    assert go.names == (("example.com/shop/util", "u"),)
    java = outline("java", "import com.acme.util.*;\nimport static java.lang.Math.max;\n")
    assert [i.names for i in java.imports] == [(("*", ""),), (("max", ""),)]
    py = outline("python", "from .a import b as c, d\nimport os.path\n")
    assert [(i.spec, i.names) for i in py.imports] == [(".a", (("b", "c"), ("d", ""))),
                                                      ("os.path", ())]


def test_incremental_reparse_matches_a_fresh_parse() -> None:
    entry = entry_for("typescript")
    rng = random.Random(7)
    text = TS * 5
    lines = text.splitlines(keepends=True)
    for step in range(40):
        i = rng.randrange(len(lines))
        lines[i] = rng.choice(["", "  x = 1;\n", "function g() {\n", "}\n", lines[i] + "// é\n"])
        text = "".join(lines)
        incremental = trees.parse(entry, text, "doc.ts")
        fresh = grammars.parser(entry).parse(text.encode())
        assert str(incremental.root_node) == str(fresh.root_node), step
        assert parse(text, "typescript", "doc.ts").units == parse(text, "typescript").units


def test_edit_between_describes_one_replaced_range() -> None:
    edit = trees.edit_between(b"ab\ncd\nef", b"ab\ncXd\nef")
    assert (edit["start_byte"], edit["old_end_byte"], edit["new_end_byte"]) == (4, 4, 5)
    assert edit["start_point"] == (1, 1) and edit["new_end_point"] == (1, 2)


def test_test_files_are_units_by_test() -> None:
    text = """import { total } from "./cart";

describe("Cart", () => {
  beforeEach(() => {
    reset();
  });

  it("sums prices", () => {
    expect(total([1, 2])).toBe(3);
  });
});

test("top-level test", () => {
  expect(1).toBe(1);
});
"""
    assert kinds_and_names(text, "typescript") == [
        ("imports", "<imports>"),
        ("module", "Cart"),  # the describe block's own lines: beforeEach and its brackets
        ("function", "Cart.sums prices"),
        ("function", "top-level test"),
    ]
