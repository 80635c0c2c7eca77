"""Topic matching: the nucleus's local pub/sub trie and MQTT topic filters for IoT Core.

Local pub/sub copies the behaviour of the nucleus's ``SubscriptionTrie`` (aws-greengrass-nucleus,
builtin/services/pubsub): topics split on ``/`` the way Java's ``String.split`` does (trailing empty
levels dropped), ``+`` and ``#`` are wildcards only as a whole level, and ``a/#`` does NOT match
``a`` on local pub/sub. IoT Core subscriptions use plain MQTT 3.1.1 filter rules, where it does.
"""

from typing import Dict, Generic, Iterable, List, Set, TypeVar

T = TypeVar("T")

SINGLE_LEVEL = "+"
MULTI_LEVEL = "#"


def split_levels(topic: str) -> List[str]:
    """``topic.split("/")`` with Java semantics: trailing empty strings are removed."""
    levels = topic.split("/")
    while levels and levels[-1] == "":
        levels.pop()
    return levels


def is_wildcard(topic: str) -> bool:
    """True when the topic holds an MQTT wildcard as a whole level (``#`` only as the last level)."""
    levels = split_levels(topic)
    for index, level in enumerate(levels):
        if level == SINGLE_LEVEL:
            return True
        if level == MULTI_LEVEL and index == len(levels) - 1:
            return True
    return False


class _Node(Generic[T]):
    __slots__ = ("children", "items")

    def __init__(self) -> None:
        self.children: Dict[str, _Node[T]] = {}
        self.items: Set[T] = set()


class SubscriptionTrie(Generic[T]):
    """Subscriptions keyed by topic (which may hold ``+``/``#``), matched against published topics."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()

    def __len__(self) -> int:
        count, nodes = 0, [self._root]
        while nodes:
            node = nodes.pop()
            count += len(node.items)
            nodes.extend(node.children.values())
        return count

    def add(self, topic: str, item: T) -> None:
        node = self._root
        for level in split_levels(topic):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        node.items.add(item)

    def remove(self, topic: str, item: T) -> bool:
        path = [self._root]
        levels = split_levels(topic)
        for level in levels:
            child = path[-1].children.get(level)
            if child is None:
                return False
            path.append(child)
        if item not in path[-1].items:
            return False
        path[-1].items.discard(item)
        # Prune empty branches so a long-running nucleus does not accumulate dead topics.
        for depth in range(len(levels), 0, -1):
            node = path[depth]
            if node.items or node.children:
                break
            del path[depth - 1].children[levels[depth - 1]]
        return True

    def match(self, topic: str) -> Set[T]:
        levels = split_levels(topic)
        result: Set[T] = set()
        if not levels:
            return result
        paths = self._step([self._root], levels[0], result)
        for level in levels[1:]:
            if not paths:
                break
            paths = self._step(paths, level, result)
        for node in paths:
            result.update(node.items)
        return result

    @staticmethod
    def _step(nodes: Iterable["_Node[T]"], level: str, result: Set[T]) -> List["_Node[T]"]:
        nxt = []
        for node in nodes:
            exact = node.children.get(level)
            if exact is not None:
                nxt.append(exact)
            plus = node.children.get(SINGLE_LEVEL)
            if plus is not None:
                nxt.append(plus)
            pound = node.children.get(MULTI_LEVEL)
            if pound is not None:
                nxt.append(pound)
                result.update(pound.items)
        return nxt


def is_valid_mqtt_filter(topic_filter: str) -> bool:
    """MQTT 3.1.1 filter syntax: non-empty, ``+`` a whole level, ``#`` a whole last level."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if MULTI_LEVEL in level and (level != MULTI_LEVEL or index != len(levels) - 1):
            return False
        if SINGLE_LEVEL in level and level != SINGLE_LEVEL:
            return False
    return True


def mqtt_filter_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 matching of a topic name against a filter (``sport/#`` also matches ``sport``)."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == MULTI_LEVEL:
            return True  # also when the topic ended one level earlier: "a/#" matches "a"
        if index >= len(topic_levels):
            return False
        if level != SINGLE_LEVEL and level != topic_levels[index]:
            return False
    return len(topic_levels) == len(filter_levels)
