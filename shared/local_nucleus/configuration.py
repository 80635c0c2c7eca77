"""Per-component configuration trees with the nucleus's merge and timestamp rules.

Mirrors the nucleus config store as the IPC configuration operations see it (aws-greengrass-nucleus
ConfigStoreIPCEventStreamAgent, config.Topics/Topic): a container (JSON object) holds named
children, everything else (numbers, strings, lists, null) is a leaf value with a modification time
in milliseconds. A MERGE never overwrites a leaf that is newer than the update's timestamp.
"""

import copy
from typing import Dict, List, Optional, Sequence, Tuple

KeyPath = Tuple[str, ...]


class _Node:
    __slots__ = ("children", "value", "modtime")

    def __init__(self, modtime: int, children: Optional[Dict[str, "_Node"]] = None, value: object = None):
        self.children = children  # None for a leaf
        self.value = value
        self.modtime = modtime

    @property
    def is_leaf(self) -> bool:
        return self.children is None

    def to_pojo(self) -> object:
        if self.children is None:
            return copy.deepcopy(self.value)
        return {name: child.to_pojo() for name, child in self.children.items()}

    def newest(self) -> int:
        if self.children is None:
            return self.modtime
        return max([self.modtime] + [child.newest() for child in self.children.values()])


def _build(value: object, modtime: int) -> _Node:
    if isinstance(value, dict):
        return _Node(modtime, {str(key): _build(child, modtime) for key, child in value.items()})
    return _Node(modtime, value=copy.deepcopy(value))


def _leaf_paths(node: _Node, prefix: KeyPath) -> List[KeyPath]:
    if node.children is None:
        return [prefix]
    paths: List[KeyPath] = []
    for name, child in node.children.items():
        paths.extend(_leaf_paths(child, prefix + (name,)))
    return paths


class ConfigStore:
    """Configuration of every registered component. Not thread-safe: owned by the server loop."""

    def __init__(self) -> None:
        self._roots: Dict[str, _Node] = {}

    def components(self) -> List[str]:
        return list(self._roots)

    def has_component(self, name: str) -> bool:
        return name in self._roots

    def replace(self, name: str, configuration: dict, now_ms: int) -> List[KeyPath]:
        """Set a component's whole configuration; returns the leaf paths that changed."""
        old = self._roots.get(name)
        new = _build(configuration, now_ms)
        self._roots[name] = new
        if old is None:
            return []
        old_leaves = {path: _lookup(old, path) for path in _leaf_paths(old, ())}
        changed = []
        for path in _leaf_paths(new, ()):
            previous = old_leaves.pop(path, None)
            if previous is None or previous.value != _lookup(new, path).value:  # type: ignore[union-attr]
                changed.append(path)
        changed.extend(old_leaves)  # removed keys
        return changed

    def snapshot(self, name: str) -> dict:
        return self._roots[name].to_pojo()  # type: ignore[return-value]

    def all_snapshots(self) -> Dict[str, dict]:
        return {name: root.to_pojo() for name, root in self._roots.items()}  # type: ignore[misc]

    def find(self, name: str, key_path: Sequence[str]) -> Tuple[bool, object]:
        """(found, value) as GetConfiguration returns it: a leaf comes back as {leaf name: value}."""
        root = self._roots.get(name)
        if root is None:
            return False, None
        if not key_path:
            return True, root.to_pojo()
        node = _lookup(root, tuple(key_path))
        if node is None:
            return False, None
        if node.is_leaf:
            return True, {key_path[-1]: node.to_pojo()}
        return True, node.to_pojo()

    def exists(self, name: str, key_path: Sequence[str]) -> bool:
        root = self._roots.get(name)
        return root is not None and (not key_path or _lookup(root, tuple(key_path)) is not None)

    def merge(self, name: str, key_path: Sequence[str], value: dict, timestamp_ms: int,
              force: bool = False) -> Tuple[List[KeyPath], bool]:
        """MERGE value into the container at key_path (created if missing).

        Returns (changed leaf paths, accepted). accepted is False when something under key_path is
        newer than timestamp_ms afterwards, i.e. the nucleus's FailedUpdateConditionCheckError.
        force (a deployment) always overwrites.
        """
        root = self._roots.setdefault(name, _Node(timestamp_ms, {}))
        changed: List[KeyPath] = []
        container = root
        path: KeyPath = ()
        for key in key_path:
            path += (key,)
            child = container.children.get(key)  # type: ignore[union-attr]
            if child is None or child.is_leaf:
                if child is not None:
                    if not force and child.modtime > timestamp_ms:
                        return changed, False
                    changed.append(path)
                child = _Node(timestamp_ms, {})
                container.children[key] = child  # type: ignore[index]
            container = child
        self._merge_into(container, path, value, timestamp_ms, force, changed)
        return changed, force or container.newest() <= timestamp_ms

    def _merge_into(self, container: _Node, prefix: KeyPath, value: dict, timestamp_ms: int, force: bool,
                    changed: List[KeyPath]) -> None:
        children = container.children
        assert children is not None
        for raw_key, new_value in value.items():
            key = str(raw_key)
            path = prefix + (key,)
            child = children.get(key)
            if isinstance(new_value, dict):
                if child is not None and child.is_leaf:
                    if not force and child.modtime > timestamp_ms:
                        continue
                    changed.append(path)
                    child = None
                if child is None:
                    child = children[key] = _Node(timestamp_ms, {})
                self._merge_into(child, path, new_value, timestamp_ms, force, changed)
            elif child is None:
                children[key] = _Node(timestamp_ms, value=copy.deepcopy(new_value))
                changed.append(path)
            elif child.is_leaf:
                if not force and child.modtime > timestamp_ms:
                    continue
                if child.value != new_value:
                    child.value = copy.deepcopy(new_value)
                    changed.append(path)
                child.modtime = max(child.modtime, timestamp_ms) if not force else timestamp_ms
            else:
                if not force and child.newest() > timestamp_ms:
                    continue
                children[key] = _Node(timestamp_ms, value=copy.deepcopy(new_value))
                changed.append(path)


def _lookup(root: _Node, path: KeyPath) -> Optional[_Node]:
    node = root
    for key in path:
        if node.children is None:
            return None
        child = node.children.get(key)
        if child is None:
            return None
        node = child
    return node
