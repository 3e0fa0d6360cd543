"""Reading a user's YAML file (a task file, a run config) with errors worded as one line.

PyYAML keeps the last of two equal keys in a mapping without a word (the
YAML spec says keys are unique); a user who pasted ``budget_seconds`` twice
would get a value they may not have meant, so a repeated key is refused and
named with both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evosld.errors import EvosldError, yaml_where


class _RepeatedKey(yaml.constructor.ConstructorError):
    """A key given twice in one mapping; ``problem`` says which and where."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges a mapping in; keys may override it
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _RepeatedKey(None, None, f"key {key!r} is given twice (lines {seen[key]} and {line}); "
                                       "keep one", key_node.start_mark)
                seen[key] = line
            except TypeError:  # an unhashable key: construct_mapping below says so
                pass
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path, kind: str, error: type[EvosldError]) -> Any:
    """The YAML document in ``path``; ``kind`` ("task file", "config file") names it in the ``error`` raised.

    Raises:
        error: the file is missing, a folder, not UTF-8, not valid YAML, or gives a key twice.
    """
    p = Path(path)
    try:
        return yaml.load(p.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise error(f"{kind} not found: {p}") from None
    except IsADirectoryError:
        raise error(f"{kind} {p} is a folder; give the YAML file itself") from None
    except UnicodeDecodeError as exc:
        raise error(f"{kind} {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except _RepeatedKey as exc:
        raise error(f"{kind} {p}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{kind} {p} is not valid YAML{yaml_where(exc)}") from None
