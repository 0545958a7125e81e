"""The backward engine: one iterative pass over the recorded graph in dependency order.

1. Discover every node reachable from the roots and count, for each, the edges that feed
   it (its consumers). No recursion, so a chain of a million ops is fine.
2. Run ready nodes newest first (a heap on creation order); a node is ready once every
   consumer has delivered its gradient, summed in the node's input buffer.
3. Hand each output gradient on along ``next_functions``; AccumulateGrad nodes store into
   leaves' ``.grad``, or, for ``autograd.grad``, the wanted gradients are captured instead.
4. Run the callbacks queued during the pass (``queue_callback``), in queue order.

Without ``create_graph`` the backward formulas run under ``no_grad``: they are ember ops,
so with it they record a graph of their own and give higher derivatives.
"""
from __future__ import annotations

import threading
from heapq import heappop, heappush

from ember._tensor import c_type_name
from ember.autograd import anomaly_mode, grad_mode, programs
from ember.autograd.graph import (
    AccumulateGrad,
    GraphRoot,
    call_tensor_hook,
    check_hook_result,
    grad_edge,
    hook_name,
)

# The recording profiler (autograd/profiler.py sets it), told of every node the engine runs.
profiler = None


class _Running(threading.local):
    # One list of queued callbacks per backward pass in progress in this thread, innermost
    # last (a callback or hook may start a backward of its own), and beside it the pass's
    # nodes: (its root, dependency counts, the nodes that run when some are pruned, the
    # wanted ones).
    callbacks: list | None = None
    tasks: list | None = None


_running = _Running()


def queue_callback(callback) -> None:
    """Mirrors ``Variable._execution_engine.queue_callback``: ``callback()`` runs once the
    backward pass now in progress has finished its graph, in queue order; a callback may
    queue more. Only callable during a backward pass."""
    stack = _running.callbacks
    if not stack:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    stack[-1].append(callback)


def execute(roots: list, grads: list, retain_graph: bool, create_graph: bool,
            targets: list | None = None, accumulate: bool = True) -> list | None:
    """Run backward from ``roots`` (edges) seeded with ``grads``.

    ``targets``: edges whose incoming gradient is wanted; with ``accumulate`` False they
    are captured and returned (``autograd.grad``), with it only their leaves accumulate
    (``backward(inputs=...)``). Nodes that lead to no target are not run.
    """
    if len(roots) == 1:
        root, root_nr = roots[0]
        first = [None] * root.num_outputs
        first[root_nr] = grads[0]
    else:
        root, root_nr = GraphRoot(tuple(roots)), 0
        first = list(grads)

    wanted = runs = captured = deps = None
    if targets is not None:
        order = [root]
        deps = _discover(root, order)
        wanted = {}
        for i, (node, nr) in enumerate(targets):
            wanted.setdefault(node, []).append((nr, i))
        runs = _prune(root, dict(deps), wanted, accumulate)
        deps = _count_dependencies(order, runs)
        captured = [None] * len(targets)

    prof = profiler
    # NOTE [Graph programs]: a plain backward may run as one program, or be recorded as one
    graphed = (targets is None and len(roots) == 1 and root_nr == 0 and not create_graph
               and prof is None and not anomaly_mode.state[0])
    stack = _running.callbacks
    if stack is None:
        stack = _running.callbacks = []
    callbacks = []
    stack.append(callbacks)
    prev = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    anomaly = anomaly_mode.state
    tracer = task = None
    try:
        if graphed:
            tracer = programs.graph_backward(root, first[0], retain_graph)
            if tracer is True:
                return None
        if deps is None:  # counted once no program ran (NOTE [Graph programs])
            deps = _discover(root, None)
        tasks = _running.tasks
        if tasks is None:
            tasks = _running.tasks = []
        task = (root, deps, runs, wanted)
        tasks.append(task)
        buffers = {root: first}
        ready = [(root._key, root)]
        while ready:
            node = heappop(ready)[1]
            # Gradients arrive in a buffer only when one is not None, so ``inputs`` is None
            # exactly when nothing arrived, unless hooks replaced them (or at the root).
            inputs = buffers.pop(node, None)
            if wanted is not None and node not in runs and node not in wanted:
                continue  # a node no wanted gradient needs: not run, its hooks not called
            extra = node._extra
            if extra is not None:
                inputs = _pre_hooks(node, extra, inputs or [None] * node.num_outputs)
                if node is not root and all(g is None for g in inputs):
                    inputs = None
            if wanted is not None:
                if node in wanted:
                    for nr, i in wanted[node]:
                        captured[i] = inputs[nr] if inputs is not None else None
                if node not in runs:
                    continue
            events = None
            if prof is not None and type(node) is not GraphRoot:
                events = prof.node_events(node, inputs or [None] * node.num_outputs)
            if inputs is None:
                if type(node) is AccumulateGrad:  # its hooks still run (as in torch)
                    node.apply([None])
                outputs = [None] * len(node._next)
            else:
                if tracer is not None and type(node) is AccumulateGrad:
                    tracer.sink(node, inputs)
                outputs = node.apply(inputs) if not anomaly[0] else _apply_watched(node, inputs)
                if extra is not None and "post" in extra:
                    outputs = _post_hooks(extra["post"], outputs, inputs)
            if events is not None:
                prof.close(events[1])
            if not retain_graph:
                node.release()
            for nxt, nr, grad in zip(node._next, node._nrs, outputs):
                if nxt is None or (runs is not None and nxt not in deps):
                    continue
                if grad is not None:
                    buf = buffers.get(nxt)
                    if buf is None:
                        if nxt.num_outputs == 1:
                            buffers[nxt] = [grad]
                        else:
                            buf = buffers[nxt] = [None] * nxt.num_outputs
                            buf[nr] = grad
                    else:
                        old = buf[nr]
                        buf[nr] = grad if old is None else old + grad
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    heappush(ready, (nxt._key, nxt))
            # the gradients now live in the buffers only (NOTE [Stealing a gradient])
            outputs = grad = None
            if events is not None:
                prof.close(events[0])
        if tracer is not None:
            tracer.finish()
        i = 0
        while i < len(callbacks):  # the list may grow while it runs
            callbacks[i]()
            i += 1
    finally:
        if tracer is not None and tracer is not True:
            tracer.abandon()
        grad_mode.state.enabled = prev
        stack.pop()
        if task is not None:
            _running.tasks.pop()
    return captured


def current_task():
    """The backward pass in progress in this thread (innermost), or None: an object that
    stays the same for the whole pass."""
    tasks = _running.tasks
    return tasks[-1] if tasks else None


def will_execute(node) -> bool:
    """Whether the backward pass in progress runs ``node`` (torch's
    ``_will_engine_execute_node``): it is reachable from the roots and, when the pass
    computes some gradients only (``inputs=``, ``autograd.grad``), leads to one of them or
    is one of them."""
    root, deps, runs, wanted = _running.tasks[-1]
    if node is not root and node not in deps:
        return False
    return runs is None or node in runs or node in wanted


def _apply_watched(node, inputs: list) -> list:
    """``node.apply`` under anomaly detection: a failure warns with the forward traceback,
    and nan gradients raise."""
    try:
        outputs = node.apply(inputs)
        if anomaly_mode.state[1]:
            anomaly_mode.check_nan(node, outputs)
    except Exception:
        anomaly_mode.warn_error_in(node)
        raise
    return outputs


def _discover(root, order: list | None) -> dict:
    """Count each reachable node's incoming edges; also append the nodes to ``order`` in
    discovery order, when given."""
    deps = {}
    stack = [root]
    while stack:
        for nxt in stack.pop()._next:
            if nxt is None:
                continue
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)
                if order is not None:
                    order.append(nxt)
    return deps


def _prune(root, deps: dict, wanted: dict, accumulate: bool) -> set:
    """The nodes that must run so every wanted edge receives its gradient: those with a
    path to a wanted node (and, for ``backward(inputs=...)``, the wanted leaves' own
    AccumulateGrad nodes)."""
    topo = _topological(root, deps)
    reaches = set()
    runs = set()
    for node in reversed(topo):
        if node in wanted:
            reaches.add(node)
            if accumulate and type(node) is AccumulateGrad:
                runs.add(node)
        for nxt in node._next:
            if nxt is not None and nxt in reaches:
                reaches.add(node)
                runs.add(node)
                break
    return runs


def _topological(root, deps: dict) -> list:
    """Kahn's order, parents before children; consumes ``deps``."""
    topo = []
    ready = [root]
    while ready:
        node = ready.pop()
        topo.append(node)
        for nxt in node._next:
            if nxt is not None:
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)
    return topo


def _count_dependencies(order: list, runs: set) -> dict:
    """Incoming edges counted only from nodes that will run, into nodes that matter."""
    deps = {}
    for node in order:
        if node not in runs:
            continue
        for nxt in node._next:
            if nxt is not None:
                deps[nxt] = deps.get(nxt, 0) + 1
    return deps


def _pre_hooks(node, extra: dict, inputs: list) -> list:
    """Tensor hooks of the node's outputs, then ``retain_grad`` copies, then node prehooks."""
    tensor_hooks = extra.get("tensor")
    if tensor_hooks:
        for nr, hooks in tensor_hooks.items():
            for hook in tuple(hooks.values()):
                inputs[nr] = call_tensor_hook(hook, inputs[nr])
    retained = extra.get("retain")
    if retained:
        for nr, ref in retained.items():
            t = ref()
            grad = inputs[nr]
            if t is None or grad is None:
                continue
            if t._grad is None:
                t._grad = grad.detach().clone() if not grad_mode.state.enabled else grad.clone()
            else:
                t._grad = t._grad + grad
    for hook in tuple(extra["pre"].values()) if "pre" in extra else ():
        new = hook(tuple(inputs))
        if new is not None:
            inputs = _checked(hook, new, inputs)
    return inputs


def _post_hooks(hooks: dict, outputs, inputs: list):
    for hook in tuple(hooks.values()):
        new = hook(tuple(outputs), tuple(inputs))
        if new is not None:
            outputs = _checked(hook, new, outputs)
    return outputs


def _checked(hook, values, originals) -> list:
    """torch's checks of what a node hook returned in place of the gradients
    ``originals``: a tuple of as many, each None or a gradient of the same kind
    (``check_hook_result``)."""
    if not isinstance(values, tuple):
        raise TypeError(f"expected tuple, but hook returned '{c_type_name(values)}'")
    if len(values) != len(originals):
        raise RuntimeError(
            f"hook '{hook_name(hook)}' has returned an incorrect number of values (got "
            f"{len(values)}, but expected {len(originals)})")
    for original, new in zip(originals, values):
        if new is not None:
            check_hook_result(hook, original, new)
    return list(values)


def roots_of(tensors) -> list:
    return [grad_edge(t) for t in tensors]
