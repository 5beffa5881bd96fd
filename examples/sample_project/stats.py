"""A tiny module with the kind of bugs Kaizen should catch."""


def mean(values):
    return sum(values) / len(values)


def append_item(item, items=[]):
    items.append(item)
    return items


def last(values):
    return values[len(values)]


def is_missing(value):
    return value == None
