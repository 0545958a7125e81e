"""The restricted unpickler behind ``ember.load(..., weights_only=True)``.

A pickle is a program: GLOBAL names any importable object and REDUCE calls it, which is how
a hostile checkpoint runs ``os.system``. This module interprets the pickle opcodes itself
(as torch's weights-only unpickler does), so that

- a global resolves only through ``resolve`` (the allow-list); nothing is imported;
- only callables marked safe are ever called (REDUCE, NEWOBJ), and BUILD only sets
  attributes on containers or on instances of classes the user allow-listed;
- every length read from the file is checked against the bytes that remain, so a declared
  size can never make it allocate more than the file holds;
- the interpreter is a loop, never recursive: deep nesting costs memory, not the C stack.

Opcodes for out-of-band buffers and the copyreg extension registry are refused. A
weights-only load (``torch_opcodes``) interprets only the opcodes torch's weights-only
unpickler does (NOTE [Weights-only opcodes]); the other readers (the legacy format's header
and key records under ``weights_only=False``) take every protocol.
"""
from __future__ import annotations

import codecs
import pickle
import struct
import warnings
from pickle import UnpicklingError

# The texts torch shows when a weights-only load meets something it refuses.
_HEAD_BLOCKED = (
    "Weights only load failed. In PyTorch 2.6, we changed the default value of the "
    "`weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` "
    "with `weights_only` set to `False` will likely succeed, but it can result in arbitrary "
    "code execution. Do it only if you got the file from a trusted source.\n\n\n")
_HEAD_OTHER = (
    "Weights only load failed. In PyTorch 2.6, we changed the default value of the "
    "`weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` "
    "with `weights_only` set to `False` will likely succeed, but it can result in arbitrary "
    "code execution. Do it only if you got the file from a trusted source.\nPlease file an "
    "issue with the following so that we can make `weights_only=True` compatible with your "
    "use case: WeightsUnpickler error: \n\n")
_HEAD = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, "
    "\x1b[1mdo those steps only if you trust the source of the checkpoint\x1b[0m. \n\t(1) In "
    "PyTorch 2.6, we changed the default value of the `weights_only` argument in "
    "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to "
    "`False` will likely succeed, but it can result in arbitrary code execution. Do it only "
    "if you got the file from a trusted source.\n\t(2) Alternatively, to load with "
    "`weights_only=True` please check the recommended steps in the following error "
    "message.\n\tWeightsUnpickler error: ")
_TAIL = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default "
    "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")
_NOT_ALLOWED = " was not an allowed global by default."
# Modules whose globals torch names as blocked rather than merely not allowed.
BLOCKED_MODULES = frozenset({"sys", "os", "posix", "nt"})


class _Refused(Exception):
    """Carries the reason a weights-only load stops; turned into torch's message once."""

    def __init__(self, detail: str, blocked: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.blocked = detail, blocked


def weights_only_error(detail: str, blocked: bool = False) -> UnpicklingError:
    """torch's UnpicklingError text around ``detail``: torch offers the allow-list for a
    global it does not allow, and asks for an issue about anything else it refuses."""
    if blocked:
        return UnpicklingError(_HEAD_BLOCKED + detail + _TAIL)
    if _NOT_ALLOWED in detail:
        return UnpicklingError(_HEAD + detail + _TAIL)
    return UnpicklingError(_HEAD_OTHER + detail + _TAIL)


# NOTE [Weights-only opcodes]: torch's weights-only unpickler interprets the opcodes of
# protocol 2 that its own pickles use and refuses every other one ("Unsupported operand
# 149" for protocol 4's FRAME): a file saved with ``pickle_protocol=4`` loads only with
# ``weights_only=False``, and a protocol other than 2 draws its warning first.
TORCH_OPCODES = frozenset(op[0] for op in (
    pickle.APPEND, pickle.APPENDS, pickle.BINFLOAT, pickle.BINGET, pickle.BININT,
    pickle.BININT1, pickle.BININT2, pickle.BINPERSID, pickle.BINPUT, pickle.BINUNICODE,
    pickle.BUILD, pickle.EMPTY_DICT, pickle.EMPTY_LIST, pickle.EMPTY_SET, pickle.EMPTY_TUPLE,
    pickle.GLOBAL, pickle.LONG1, pickle.LONG_BINGET, pickle.LONG_BINPUT, pickle.MARK,
    pickle.NEWFALSE, pickle.NEWOBJ, pickle.NEWTRUE, pickle.NONE, pickle.PROTO, pickle.REDUCE,
    pickle.SETITEM, pickle.SETITEMS, pickle.SHORT_BINSTRING, pickle.STOP, pickle.TUPLE,
    pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3))


def warn_protocol(protocol: int) -> None:
    """torch's warning when a weights-only load meets a protocol other than 2."""
    warnings.warn(
        f"Detected pickle protocol {protocol} in the checkpoint, which was not the default "
        "pickle protocol used by `torch.load` (2). The weights_only Unpickler might not "
        "support all instructions implemented by this protocol, please file an issue for "
        "adding support if you encounter this.", stacklevel=4)


def global_display_name(module: str, name: str) -> str:
    """How torch's message names a global: ``eval`` for builtins, else ``module.name``."""
    return name if module == "builtins" else f"{module}.{name}"


def refuse_global(module: str, name: str) -> _Refused:
    if module.split(".")[0] in BLOCKED_MODULES:
        return _Refused(f"Trying to load unsupported GLOBAL {module}.{name} whose module "
                        f"{module} is blocked.", blocked=True)
    shown = global_display_name(module, name)
    return _Refused(
        f"Unsupported global: GLOBAL {shown}{_NOT_ALLOWED} Please use "
        f"`torch.serialization.add_safe_globals([{shown}])` or the "
        f"`torch.serialization.safe_globals([{shown}])` context manager to allowlist this "
        "global if you trust this class/function.")


class Callable:
    """Marks an allow-listed global that REDUCE may call (a rebuild function, or a checked
    wrapper around a builtin). ``func`` must bound what it allocates by its arguments."""

    __slots__ = ("func",)

    def __init__(self, func) -> None:
        self.func = func


class _Mark:
    __slots__ = ()


_MARK = _Mark()
_unpack_i = struct.Struct("<i").unpack_from
_unpack_I = struct.Struct("<I").unpack_from
_unpack_H = struct.Struct("<H").unpack_from
_unpack_Q = struct.Struct("<Q").unpack_from
_unpack_d = struct.Struct(">d").unpack_from


class RestrictedUnpickler:
    """Interprets pickle ``data`` (bytes) with ``resolve(module, name)`` for globals and
    ``persistent_load(pid)`` for persistent ids; ``load()`` returns the object.

    ``resolve`` returns a ``Callable`` (may be called), a type that the user allow-listed
    (NEWOBJ / BUILD allowed, see ``user_types``) or any other object (a value only), and
    raises ``_Refused`` for anything else. ``encoding`` decodes protocol-0/1 ``str`` data as
    ``pickle.Unpickler`` does. ``torch_opcodes``: refuse what torch's weights-only
    unpickler does not interpret (NOTE [Weights-only opcodes])."""

    def __init__(self, data: bytes, resolve, persistent_load, user_types=(),
                 encoding: str = "utf-8", torch_opcodes: bool = False) -> None:
        self.torch_opcodes = torch_opcodes
        self.data = bytes(data)
        self.pos = 0
        self.resolve = resolve
        self.persistent_load = persistent_load
        self.user_types = tuple(user_types)
        self.encoding = encoding

    # ---- reading ---------------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        start = self.pos
        end = start + n
        if n < 0 or end > len(self.data):
            raise _Refused(f"pickle data was truncated (wanted {n} bytes at offset {start})")
        self.pos = end
        return self.data[start:end]

    def _line(self) -> bytes:
        start = self.pos
        end = self.data.find(b"\n", start)
        if end < 0:
            raise _Refused("pickle data was truncated (a text opcode has no newline)")
        self.pos = end + 1
        return self.data[start:end]

    # ---- the interpreter -------------------------------------------------------------
    def load(self):
        try:
            return self._run()
        except _Refused:
            raise
        except (IndexError, KeyError) as exc:  # an opcode found the stack or memo short
            raise _Refused(f"malformed pickle ({type(exc).__name__}: {exc})") from None
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError, struct.error) as exc:
            raise _Refused(f"malformed pickle ({type(exc).__name__}: {exc})") from None

    def _pop_mark(self) -> list:
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _run(self):
        self.stack: list = []
        self.metastack: list = []
        memo: dict = {}
        data = self.data
        size = len(data)
        take = self._take
        refused = frozenset(range(256)) - TORCH_OPCODES if self.torch_opcodes else frozenset()
        while True:
            if self.pos >= size:
                raise _Refused("pickle data was truncated (no STOP opcode)")
            op = data[self.pos]
            self.pos += 1
            if op in refused:
                raise _Refused(f"Unsupported operand {op}")
            stack = self.stack
            # Ordered roughly by frequency in checkpoints.
            if op == 0x71:  # BINPUT
                memo[take(1)[0]] = stack[-1]
            elif op == 0x68:  # BINGET
                stack.append(memo[take(1)[0]])
            elif op == 0x58:  # BINUNICODE
                n = _unpack_I(take(4))[0]
                stack.append(take(n).decode("utf-8", "surrogatepass"))
            elif op == 0x4B:  # BININT1
                stack.append(take(1)[0])
            elif op == 0x28:  # MARK
                self.metastack.append(stack)
                self.stack = []
            elif op == 0x74:  # TUPLE
                items = self._pop_mark()
                self.stack.append(tuple(items))
            elif op == 0x85:  # TUPLE1
                stack[-1] = (stack[-1],)
            elif op == 0x86:  # TUPLE2
                stack[-2:] = [tuple(stack[-2:])]
            elif op == 0x87:  # TUPLE3
                stack[-3:] = [tuple(stack[-3:])]
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x52:  # REDUCE
                args = stack.pop()
                func = stack[-1]
                stack[-1] = self._call(func, args)
            elif op == 0x51:  # BINPERSID
                stack[-1] = self.persistent_load(stack[-1])
            elif op == 0x50:  # PERSID
                stack.append(self.persistent_load(self._line().decode("ascii")))
            elif op == 0x63:  # GLOBAL
                module = self._line().decode("utf-8")
                name = self._line().decode("utf-8")
                stack.append(self.resolve(module, name))
            elif op == 0x93:  # STACK_GLOBAL
                name = stack.pop()
                module = stack.pop()
                if type(module) is not str or type(name) is not str:
                    raise _Refused("STACK_GLOBAL requires str")
                stack.append(self.resolve(module, name))
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x4D:  # BININT2
                stack.append(_unpack_H(take(2))[0])
            elif op == 0x4A:  # BININT
                stack.append(_unpack_i(take(4))[0])
            elif op == 0x8A:  # LONG1
                n = take(1)[0]
                stack.append(int.from_bytes(take(n), "little", signed=True))
            elif op == 0x8B:  # LONG4
                n = _unpack_i(take(4))[0]
                stack.append(int.from_bytes(take(n), "little", signed=True))
            elif op == 0x47:  # BINFLOAT
                stack.append(_unpack_d(take(8))[0])
            elif op == 0x8C:  # SHORT_BINUNICODE
                n = take(1)[0]
                stack.append(take(n).decode("utf-8", "surrogatepass"))
            elif op == 0x8D:  # BINUNICODE8
                n = _unpack_Q(take(8))[0]
                stack.append(take(n).decode("utf-8", "surrogatepass"))
            elif op == 0x43:  # SHORT_BINBYTES
                stack.append(take(take(1)[0]))
            elif op == 0x42:  # BINBYTES
                stack.append(take(_unpack_I(take(4))[0]))
            elif op == 0x8E:  # BINBYTES8
                stack.append(take(_unpack_Q(take(8))[0]))
            elif op == 0x96:  # BYTEARRAY8
                stack.append(bytearray(take(_unpack_Q(take(8))[0])))
            elif op == 0x55:  # SHORT_BINSTRING (a Python 2 str)
                stack.append(self._py2_str(take(take(1)[0])))
            elif op == 0x54:  # BINSTRING
                n = _unpack_i(take(4))[0]
                stack.append(self._py2_str(take(n)))
            elif op == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif op == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif op == 0x8F:  # EMPTY_SET
                stack.append(set())
            elif op == 0x61:  # APPEND
                value = stack.pop()
                self._list(stack[-1]).append(value)
            elif op == 0x65:  # APPENDS
                items = self._pop_mark()
                self._list(self.stack[-1]).extend(items)
            elif op == 0x6C:  # LIST
                self.stack.append(self._pop_mark())
            elif op == 0x73:  # SETITEM
                value = stack.pop()
                key = stack.pop()
                self._dict(stack[-1])[key] = value
            elif op == 0x75:  # SETITEMS
                items = self._pop_mark()
                target = self._dict(self.stack[-1])
                if len(items) % 2:
                    raise _Refused("SETITEMS with an odd number of items")
                for i in range(0, len(items), 2):
                    target[items[i]] = items[i + 1]
            elif op == 0x64:  # DICT
                items = self._pop_mark()
                if len(items) % 2:
                    raise _Refused("DICT with an odd number of items")
                self.stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})
            elif op == 0x90:  # ADDITEMS
                items = self._pop_mark()
                target = self.stack[-1]
                if type(target) is not set:
                    raise _Refused(f"ADDITEMS on a {type(target).__name__}")
                target.update(items)
            elif op == 0x91:  # FROZENSET
                self.stack.append(frozenset(self._pop_mark()))
            elif op == 0x62:  # BUILD
                state = stack.pop()
                self._build(stack[-1], state)
            elif op == 0x81:  # NEWOBJ
                args = stack.pop()
                cls = stack.pop()
                stack.append(self._new(cls, args, {}))
            elif op == 0x92:  # NEWOBJ_EX
                kwargs = stack.pop()
                args = stack.pop()
                cls = stack.pop()
                stack.append(self._new(cls, args, kwargs))
            elif op == 0x94:  # MEMOIZE
                memo[len(memo)] = stack[-1]
            elif op == 0x72:  # LONG_BINPUT
                memo[_unpack_I(take(4))[0]] = stack[-1]
            elif op == 0x6A:  # LONG_BINGET
                stack.append(memo[_unpack_I(take(4))[0]])
            elif op == 0x70:  # PUT
                memo[int(self._line())] = stack[-1]
            elif op == 0x67:  # GET
                stack.append(memo[int(self._line())])
            elif op == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    self._pop_mark()
            elif op == 0x31:  # POP_MARK
                self._pop_mark()
            elif op == 0x32:  # DUP
                stack.append(stack[-1])
            elif op == 0x80:  # PROTO
                protocol = take(1)[0]
                if self.torch_opcodes and protocol != 2:
                    warn_protocol(protocol)
                if protocol > 5:
                    raise _Refused("unsupported pickle protocol")
            elif op == 0x95:  # FRAME: a length hint only; frames are not needed in memory
                take(8)
            elif op == 0x49:  # INT (protocol 0; also the old bool spellings)
                text = self._line()
                stack.append({b"00": False, b"01": True}.get(text) if text in (b"00", b"01")
                             else int(text))
            elif op == 0x4C:  # LONG (protocol 0)
                stack.append(int(self._line().rstrip(b"L")))
            elif op == 0x46:  # FLOAT (protocol 0)
                stack.append(float(self._line()))
            elif op == 0x56:  # UNICODE (protocol 0)
                stack.append(self._line().decode("raw-unicode-escape"))
            elif op == 0x53:  # STRING (protocol 0)
                text = self._line()
                if len(text) < 2 or text[0] != text[-1] or text[0] not in b"\"'":
                    raise _Refused("the STRING opcode argument must be quoted")
                stack.append(self._py2_str(codecs.escape_decode(text[1:-1])[0]))
            elif op == 0x2E:  # STOP
                if len(stack) != 1 or self.metastack:
                    raise _Refused("malformed pickle (the stack does not hold one object "
                                   "at STOP)")
                return stack[0]
            else:
                raise _Refused(f"Unsupported operand {op}")

    def _py2_str(self, raw: bytes):
        return raw if self.encoding == "bytes" else raw.decode(self.encoding)

    @staticmethod
    def _list(target) -> list:
        if type(target) is not list:
            raise _Refused(f"Can only append to lists, but got {type(target).__name__}")
        return target

    @staticmethod
    def _dict(target) -> dict:
        if not isinstance(target, dict):
            raise _Refused(f"Can only SETITEM for dict, but got {type(target).__name__}")
        return target

    def _call(self, func, args):
        if type(args) is not tuple:
            raise _Refused("REDUCE arguments must be a tuple")
        if type(func) is Callable:
            return func.func(*args)
        if isinstance(func, type) and func in self.user_types:
            return func(*args)
        raise _Refused(f"Trying to call reduce for unrecognized function {func!r}")

    def _new(self, cls, args, kwargs):
        if type(args) is not tuple or type(kwargs) is not dict:
            raise _Refused("NEWOBJ arguments must be a tuple and a dict")
        if not isinstance(cls, type) or cls not in self.user_types:
            raise _Refused(f"Trying to instantiate unsupported class {cls!r}")
        return cls.__new__(cls, *args, **kwargs)

    def _build(self, inst, state) -> None:
        slotstate = None
        if type(state) is tuple and len(state) == 2:
            state, slotstate = state
        if type(inst) in self.user_types and hasattr(inst, "__setstate__"):
            inst.__setstate__(state if slotstate is None else (state, slotstate))
            return
        if not (type(inst) in self.user_types or isinstance(inst, dict)):
            raise _Refused(f"Can only build OrderedDict or allowlisted classes, but got "
                           f"{type(inst).__name__}")
        for part in (state, slotstate):
            if part is None:
                continue
            if not isinstance(part, dict) or any(type(k) is not str for k in part):
                raise _Refused("BUILD state must be a dict with str keys")
            for key, value in part.items():
                setattr(inst, key, value)
