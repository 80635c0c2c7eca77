"""Component dependencies as the nucleus resolves them: start order (dependencies first) and npm-style
version requirements."""

import logging
import re
from typing import Dict, Iterable, List, Optional, Tuple

from .recipes import Recipe, RecipeError

_log = logging.getLogger("local_nucleus.dependencies")



def start_order(recipes: Dict[str, Recipe], wanted: Optional[Iterable[str]] = None) -> List[str]:
    """The components to run, dependencies first: `wanted` (default: all) plus what they depend on.

    A hard dependency without a recipe is an error, as in a deployment; a soft one is skipped.
    """
    names = list(recipes) if wanted is None else list(wanted)
    for name in names:
        if name not in recipes:
            raise RecipeError("no recipe for component {} (known: {})".format(
                name, ", ".join(sorted(recipes)) or "none"))
    order: List[str] = []
    visiting: List[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            raise RecipeError("dependency cycle: {}".format(" -> ".join(cycle)))
        visiting.append(name)
        recipe = recipes[name]
        for dependency in recipe.dependencies.values():
            target = recipes.get(dependency.name)
            if target is None:
                if dependency.dependency_type == "HARD":
                    raise RecipeError(f"{name} depends on {dependency.name}, which has no recipe")
                continue
            if not version_satisfies(target.version, dependency.version_requirement):
                raise RecipeError(f"{name} needs {dependency.name} {dependency.version_requirement}, "
                                  f"but the recipe is version {target.version}")
            visit(dependency.name)
        visiting.pop()
        order.append(name)

    for name in names:
        visit(name)
    return order


_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?"
                      r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def version_satisfies(version: str, requirement: str) -> bool:
    """Whether `version` meets an npm-style requirement (`>=1.0.0 <2.0.0`, `^1.2.0`, `~1.2`, `1.x`,
    `a || b`). A requirement this reader does not understand is accepted with a warning."""
    requirement = (requirement or "*").strip()
    if requirement in ("", "*", "x", "X"):
        return True
    parsed = _parse_version(version)
    if parsed is None:
        _log.warning("version %s is not semver; requirement %s not checked", version, requirement)
        return True
    try:
        return any(all(_comparator_ok(parsed, part) for part in alternative.split())
                   for alternative in requirement.split("||"))
    except ValueError:
        _log.warning("version requirement %r not understood; not checked", requirement)
        return True


def _parse_version(text: str) -> Optional[Tuple[int, int, int]]:
    match = _VERSION.match(text.strip())
    if not match or not all(part and part.isdigit() for part in match.group(1, 2, 3)):
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def _comparator_ok(version: Tuple[int, int, int], part: str) -> bool:
    operator = re.match(r"^(>=|<=|>|<|=|\^|~)?", part).group(1) or ""
    match = _VERSION.match(part[len(operator):])
    if not match:
        raise ValueError(part)
    numbers = [None if p is None or not p.isdigit() else int(p) for p in match.group(1, 2, 3)]
    given = sum(1 for n in numbers if n is not None)
    low = tuple(n or 0 for n in numbers)
    if operator in ("", "=") and given < 3:
        operator = "^" if given == 1 else "~"  # 1.x means ^1.0.0, 1.2.x means ~1.2.0
    if operator == "^":
        major, minor, patch = low
        if major > 0:
            high = (major + 1, 0, 0)
        elif minor > 0 or given == 2:
            high = (0, minor + 1, 0)
        else:
            high = (0, 0, patch + 1) if given == 3 else (1, 0, 0)
        return low <= version < high
    if operator == "~":
        major, minor, _ = low
        high = (major + 1, 0, 0) if given == 1 else (major, minor + 1, 0)
        return low <= version < high
    return {"": version == low, "=": version == low, ">=": version >= low, "<=": version <= low,
            ">": version > low, "<": version < low}[operator]
