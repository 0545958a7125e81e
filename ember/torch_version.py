"""``ember.torch_version``: mirrors ``torch.torch_version``, whose ``TorchVersion`` is the type
of ``torch.__version__``: a string that also compares as a version number.

The comparison follows PEP 440's ordering (epoch, release with trailing zeros ignored,
pre-, post- and dev-releases, local label), parsed here by ember itself.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from ember.version import __version__ as _internal_version

__all__ = ["TorchVersion"]


class InvalidVersion(ValueError):
    """Mirrors ``torch.torch_version.InvalidVersion``: a string that is no PEP 440 version."""


# PEP 440's normalised forms: an optional "v", epoch "N!", release "N(.N)*", pre-release
# (a|b|rc and their long spellings), post-release (".postN" or "-N"), dev-release, "+local".
_PATTERN = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""", re.VERBOSE | re.IGNORECASE)

_PRE_NAMES = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc",
              "preview": "rc", "rc": "rc"}
_LOW = (-1, "")  # sorts below any (number, label) pair of a present part
_HIGH = (float("inf"), "")


def _version_key(text: str) -> tuple:
    """The sort key PEP 440 gives ``text``; InvalidVersion if it is not a version."""
    match = _PATTERN.match(text)
    if match is None:
        raise InvalidVersion(f"Invalid version: '{text}'")
    release = [int(part) for part in match["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    pre = (_PRE_NAMES[match["pre_l"].lower()], int(match["pre_n"] or 0)) if match["pre_l"] \
        else None
    post_number = match["post_n1"] or match["post_n2"]
    post = int(post_number or 0) if (match["post_n1"] or match["post_l"]) else None
    dev = int(match["dev_n"] or 0) if match["dev_l"] else None
    # A bare dev-release comes before every pre-release of its version; no pre-release
    # after all of them; no post-release before any; no dev-release after any.
    if pre is None:
        pre_key = ("", -1) if dev is not None and post is None else ("~", 0)
    else:
        pre_key = pre
    local = ()
    if match["local"]:
        # numeric segments sort above alphanumeric ones, and numerically
        local = tuple((int(seg), "") if seg.isdigit() else (-1, seg.lower())
                      for seg in re.split(r"[-_.]", match["local"]))
    return (int(match["epoch"] or 0), tuple(release), pre_key,
            _LOW if post is None else (post, ""), _HIGH if dev is None else (dev, ""), local)


def _other_key(other) -> tuple:
    if isinstance(other, str):
        return _version_key(other)
    if isinstance(other, Iterable):
        return _version_key(".".join(str(item) for item in other))
    if hasattr(other, "release") and hasattr(other, "epoch"):  # a packaging Version
        return _version_key(str(other))
    raise InvalidVersion(other)


def _comparison(name: str):
    key_compare = getattr(tuple, name)
    str_compare = getattr(str, name)

    def compare(self, other):
        try:
            return key_compare(_version_key(self), _other_key(other))
        except InvalidVersion:
            # not versions (e.g. 'parrot'): compare as strings, as torch falls back to
            return str_compare(self, other)
    compare.__name__ = name
    return compare


class TorchVersion(str):
    """Mirrors ``torch.torch_version.TorchVersion``: a ``str`` (it prints, hashes and
    concatenates as one) whose ``<``, ``<=``, ``==``, ``>=`` and ``>`` compare as version
    numbers against a version string or a tuple/list of parts (``(2, 1)`` is ``"2.1"``),
    and as strings when either side is not a valid version. ``!=`` stays ``str``'s, as in
    torch. A ``packaging.version.Version`` is compared through its string.

    Example: ``TorchVersion("2.13.0+cpu") >= (2, 0)`` is True."""

    __slots__ = ()
    __lt__ = _comparison("__lt__")
    __le__ = _comparison("__le__")
    __eq__ = _comparison("__eq__")
    __ge__ = _comparison("__ge__")
    __gt__ = _comparison("__gt__")
    __hash__ = str.__hash__


TorchVersion.__module__ = "ember.torch_version"
__version__ = TorchVersion(_internal_version)
