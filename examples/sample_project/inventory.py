"""Inventory helpers: some duplication worth refactoring."""

import os


def total_price(items):
    total = 0
    for item in items:
        if item["qty"] > 0:
            total = total + item["price"] * item["qty"]
    return total


def total_weight(items):
    total = 0
    for item in items:
        if item["qty"] > 0:
            total = total + item["weight"] * item["qty"]
    return total


def load(path):
    f = open(path)
    data = f.read()
    return data.splitlines()
