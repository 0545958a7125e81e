"""Mirrors ``torch.nn.parallel.distributed``: ``DistributedDataParallel`` over
``ember.distributed``.

# NOTE [DDP reduction]
Each process holds a replica of the module and trains on its own shard of the batch. At
construction the parameters are split into buckets (flat arrays of one dtype, filled in
reverse registration order, since the last layers' gradients are ready first in backward).
A post-accumulate-grad hook on every parameter copies its gradient, scaled by
``1 / world_size``, into its bucket slot; when a bucket's last slot is filled its
non-blocking all-reduce starts, so communication overlaps the rest of backward. Buckets
start strictly in order, as every process must issue its collectives in the same order.
When the last bucket has started, the all-reduces are waited for and the averaged
gradients are written back into ``.grad`` (or ``.grad`` becomes a view of the bucket with
``gradient_as_bucket_view``). Summing ``g_r / W`` over the ranks gives the gradient of the
mean of the per-rank losses, which for equal shards is the gradient of the mean loss over
the concatenated batch.
"""
from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ember._tensor import Tensor, make
from ember.autograd.grad_mode import is_grad_enabled
from ember.autograd.graph import AccumulateGrad
from ember.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]

_MB = 1024 * 1024
_DEFAULT_BUCKET_CAP_MB = 25
# torch gives the bucket that is reduced last (the first-registered parameters) a smaller
# cap so that little communication remains once backward has finished.
_DEFAULT_FIRST_BUCKET_BYTES = _MB

_UNFINISHED_REDUCTION = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss. \n"
    "If you already have done the above, then the distributed data parallel module wasn't "
    "able to locate the output tensors in the return value of your module's `forward` "
    "function. Please include the loss function and the structure of the return value of "
    "`forward` of your module when reporting this issue (e.g. list, dict, iterable).\n"
    "Parameter indices which did not receive grad for rank {rank}: {indices}\n"
    " In addition, you can set the environment variable TORCH_DISTRIBUTED_DEBUG to either "
    "INFO or DETAIL to print out information about which particular parameters did not "
    "receive gradient on this rank as part of this error")


def _dist():
    return importlib.import_module("ember.distributed")


def bucket_assignment(parameters: list, limits: list) -> tuple:
    """The bucket assignment of ``torch.distributed._compute_bucket_assignment_by_size``:
    parameters are taken in order into an open bucket of their dtype, which closes once its
    size reaches its limit (each dtype walks ``limits``, the last one repeating). Returns
    the buckets (lists of parameter indices, ordered by their first index) and each
    bucket's limit."""
    open_buckets: dict = {}
    closed: list = []
    for index, param in enumerate(parameters):
        key = param.dtype
        bucket = open_buckets.get(key)
        if bucket is None:
            bucket = open_buckets[key] = [[], 0, 0]  # indices, bytes, position in limits
        bucket[0].append(index)
        bucket[1] += param.numel() * param.element_size()
        limit = limits[min(bucket[2], len(limits) - 1)]
        if bucket[1] >= limit:
            closed.append((bucket[0], limit))
            open_buckets[key] = [[], 0, bucket[2] + 1]
    for indices, _, step in open_buckets.values():
        if indices:
            closed.append((indices, limits[min(step, len(limits) - 1)]))
    closed.sort(key=lambda item: item[0][0])
    return [c[0] for c in closed], [c[1] for c in closed]


class _Bucket:
    """One flat gradient buffer: its parameters (indices), their offsets, the ember tensor
    over the buffer handed to the all-reduce, and the views of each parameter's slot."""

    __slots__ = ("indices", "flat", "tensor", "views", "pending", "work")

    def __init__(self, indices: list, parameters: list) -> None:
        self.indices = indices
        dtype = parameters[indices[0]]._data.dtype
        sizes = [parameters[i].numel() for i in indices]
        self.flat = np.zeros(sum(sizes), dtype=dtype)
        self.tensor = make(self.flat)
        self.views = []
        offset = 0
        for i, size in zip(indices, sizes):
            view = self.flat[offset:offset + size].reshape(parameters[i]._data.shape)
            self.views.append(make(view))
            offset += size
        self.pending = len(indices)
        self.work = None


def _output_tensors(obj) -> Iterator[Tensor]:
    """The tensors in a forward's return value (nested lists, tuples, dicts)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            yield item
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def _reached_leaves(outputs) -> set:
    """ids of the leaf tensors whose AccumulateGrad is reachable from ``outputs``."""
    seen = set()
    leaves = set()
    stack = [t.grad_fn for t in _output_tensors(outputs) if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            variable = node.variable
            if variable is not None:
                leaves.add(id(variable))
            continue
        stack.extend(nxt for nxt, _ in node.next_functions)
    return leaves


class DistributedDataParallel(Module):
    """Mirrors ``torch.nn.parallel.DistributedDataParallel`` (data parallelism across
    processes): wraps ``module``, makes every process start from rank 0's parameters and
    buffers, and during backward averages the gradients over the process group in
    buckets whose all-reduces overlap the rest of backward (see NOTE [DDP reduction]).

    Args:
        module: the module to replicate; it is ``self.module`` and the state-dict keys gain
            torch's ``module.`` prefix.
        device_ids, output_device: as in torch's CPU build: they must be None (or an empty
            list); a device id raises torch's ValueError, since ember's modules are on the
            CPU.
        dim: kept as ``self.dim`` (torch's scatter dimension, unused for one device per
            process, as in torch).
        broadcast_buffers: deprecated alias of ``forward_sync_buffers`` (with torch's
            FutureWarning); ``False`` also skips the buffers in the construction sync.
        init_sync: broadcast rank 0's parameters (and buffers) at construction.
        process_group: the group to average over; the default group when None.
        bucket_cap_mb: bucket size cap in MiB (default 25; the bucket reduced last is
            capped at 1 MiB when the default is used, as torch does).
        find_unused_parameters: after each forward, walk the graph from the outputs and
            mark the parameters it does not reach as ready; a parameter that no rank used
            keeps its ``.grad`` untouched.
        check_reduction: deprecated, no effect (torch's FutureWarning).
        gradient_as_bucket_view: ``.grad`` becomes a view into the bucket after the first
            reduction, saving the copy back.
        static_graph: the set of unused parameters is found in the first iteration and
            reused afterwards.
        batched_grad_copy: gradients are copied into a bucket only when its last one is
            ready (one pass per bucket) instead of one at a time.
        forward_sync_buffers: broadcast rank 0's buffers at the start of each forward run
            with gradient synchronisation (default True).

    ember differs: buckets keep their construction-time assignment (torch rebuilds them
    after the first iteration in the order gradients arrived); the per-parameter
    reduction starts from a post-accumulate-grad hook, so a parameter reached by the
    graph but given no gradient (an output left out of the loss) is not detected by
    ``find_unused_parameters``; ``delay_all_reduce_named_params``,
    ``param_to_hook_all_reduce``, ``mixed_precision``, ``device_mesh``,
    ``skip_all_reduce_unused_params`` and ``bucket_cap_mb_list`` are not supported.
    torch's CPU build refuses SyncBatchNorm layers; ember synchronises them over the
    group.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool | None = None, init_sync: bool = True,
                 process_group=None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 batched_grad_copy: bool = False,
                 forward_sync_buffers: bool | None = None) -> None:
        super().__init__()
        dist = _dist()
        if process_group is None:
            if not dist.is_initialized():
                raise ValueError("Default process group has not been initialized, please "
                                 "make sure to call init_process_group.")
            process_group = dist.group.WORLD
        self.process_group = process_group
        ignore = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
        self.parameters_to_ignore = ignore
        if not any(p.requires_grad for n, p in module.named_parameters() if n not in ignore):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        if device_ids or output_device:
            devices = {p.device for p in module.parameters()}
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work "
                "with single-device/multiple-device GPU modules or CPU modules, but got "
                f"device_ids {device_ids}, output_device {output_device}, and module "
                f"parameters {devices}.")
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.module = module
        self.device = next(iter(module.parameters())).device
        init_sync_buffers = True
        if broadcast_buffers is not None:
            if forward_sync_buffers is not None:
                warnings.warn(
                    "Both `broadcast_buffers` and `forward_sync_buffers` were specified. "
                    "`broadcast_buffers` is deprecated and its value is ignored when "
                    "`forward_sync_buffers` is provided.", FutureWarning, stacklevel=2)
            else:
                warnings.warn(
                    "`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead. "
                    "IMPORTANT: unlike `broadcast_buffers=False`, `forward_sync_buffers="
                    "False` still syncs buffers at init. If you rely on buffers NOT being "
                    "synced at init (e.g. rank-local buffers), keep using "
                    "`broadcast_buffers=False` until `init_sync_buffers` is available.",
                    FutureWarning, stacklevel=2)
                init_sync_buffers = broadcast_buffers
        if forward_sync_buffers is None:
            forward_sync_buffers = True if broadcast_buffers is None else broadcast_buffers
        self.forward_sync_buffers = forward_sync_buffers
        if check_reduction:
            warnings.warn("The `check_reduction` argument in `DistributedDataParallel` "
                          "module is deprecated. Please avoid using it.", FutureWarning,
                          stacklevel=2)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.batched_grad_copy = batched_grad_copy
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True

        cap_mb = _DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap_mb * _MB)
        first_cap = (_DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None
                     else self.bucket_bytes_cap)

        self._world_size = dist.get_world_size(process_group)
        self._rank = dist.get_rank(process_group)
        self._params = self._reduced_parameters(module, ignore)
        self._buffers_synced = [b for n, b in module.named_buffers()
                                if n not in ignore and b is not None]
        if init_sync:
            self._broadcast([p for n, p in module.named_parameters() if n not in ignore])
            if init_sync_buffers:
                self._broadcast(self._buffers_synced)

        # the bucket reduced first holds the parameters registered last: torch's order
        limits = [first_cap, self.bucket_bytes_cap] if first_cap < self.bucket_bytes_cap \
            else [self.bucket_bytes_cap]
        indices, _ = bucket_assignment(self._params, limits)
        self._buckets = [_Bucket(ix, self._params) for ix in reversed(indices)]
        self._slot = {}
        for b, bucket in enumerate(self._buckets):
            for k, i in enumerate(bucket.indices):
                self._slot[i] = (b, k)
        self._grad_hook_handles = [p.register_post_accumulate_grad_hook(self._hook_for(i))
                       for i, p in enumerate(self._params)]
        self._expect_hooks = False
        self._ready: list = []
        self._unused: list = []
        self._static_unused: list | None = None
        self._marked_unused = False
        self._next_bucket = 0
        self._local_used = None
        self._used_work = None

    @staticmethod
    def _reduced_parameters(module: Module, ignore: set) -> list:
        """The parameters that are reduced: requiring grad, not ignored, deduplicated, in
        the order of ``named_modules`` then each module's own parameters (torch's)."""
        seen = set()
        params = []
        for module_name, sub in module.named_modules():
            for name, param in sub.named_parameters(recurse=False):
                full = f"{module_name}.{name}" if module_name else name
                if param.requires_grad and full not in ignore and id(param) not in seen:
                    seen.add(id(param))
                    params.append(param)
        return params

    def _broadcast(self, tensors: list) -> None:
        """Broadcasts ``tensors`` from the group's rank 0, one flat buffer per dtype."""
        if self._world_size == 1 or not tensors:
            return
        dist = _dist()
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for dtype, group in by_dtype.items():
            flat = np.concatenate([t._data.reshape(-1) for t in group]).astype(dtype,
                                                                                copy=False)
            dist.broadcast(make(flat), group=self.process_group, group_src=0)
            offset = 0
            for t in group:
                size = t._data.size
                t._data[...] = flat[offset:offset + size].reshape(t._data.shape)
                offset += size

    def _hook_for(self, index: int):
        def hook(param: Tensor) -> None:
            self._on_grad_ready(index, param)
        return hook

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Mirrors ``DistributedDataParallel.no_sync``: forwards run inside the context do
        not average their gradients; they accumulate locally in ``.grad`` and are averaged
        by the first synchronised backward after it."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._expect_hooks:
            missing = [i for i, ready in enumerate(self._ready) if not ready]
            raise RuntimeError(_UNFINISHED_REDUCTION.format(
                rank=self._rank, indices=" ".join(map(str, missing))))
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if self.require_forward_param_sync and self.forward_sync_buffers:
            self._buffers_synced = [b for n, b in self.module.named_buffers()
                                    if n not in self.parameters_to_ignore and b is not None]
            self._broadcast(self._buffers_synced)
        output = self.module(*inputs, **kwargs)
        self.require_forward_param_sync = sync
        if sync:
            self._prepare_for_backward(output)
        return output

    def _prepare_for_backward(self, output: Any) -> None:
        if self.static_graph and self._static_unused is not None:
            unused = self._static_unused
        elif self.find_unused_parameters or self.static_graph:
            reached = _reached_leaves(output)
            unused = [i for i, p in enumerate(self._params) if id(p) not in reached]
            if self.static_graph:
                self._static_unused = unused
        else:
            unused = []
        self._unused = unused
        self._marked_unused = False
        self._ready = [False] * len(self._params)
        for bucket in self._buckets:
            bucket.pending = len(bucket.indices)
            bucket.work = None
        self._next_bucket = 0
        self._local_used = None
        if self.find_unused_parameters or self.static_graph:
            self._local_used = np.zeros(len(self._params), dtype=np.int32)
        self._expect_hooks = True

    def _on_grad_ready(self, index: int, param: Tensor) -> None:
        if not self._expect_hooks:
            return
        if self._local_used is not None:
            self._local_used[index] = 1
        if not self._marked_unused:
            # torch marks the unused parameters when the first gradient arrives, so a
            # zero_grad between forward and backward is seen
            self._marked_unused = True
            for i in self._unused:
                self._mark_ready(i)
        self._mark_ready(index)
        for bucket in self._buckets[:self._next_bucket]:
            # polling lets MPI progress the started reductions while backward runs
            if bucket.work is not None:
                bucket.work.is_completed()

    def _mark_ready(self, index: int) -> None:
        b, k = self._slot[index]
        bucket = self._buckets[b]
        self._ready[index] = True
        if not self.batched_grad_copy:
            self._copy_in(bucket, k)
        bucket.pending -= 1
        if bucket.pending:
            return
        while self._next_bucket < len(self._buckets):
            bucket = self._buckets[self._next_bucket]
            if bucket.pending:
                return
            if self.batched_grad_copy:
                for k in range(len(bucket.indices)):
                    self._copy_in(bucket, k)
            self._launch(bucket)
            self._next_bucket += 1
        self._finalize()

    def _copy_in(self, bucket: _Bucket, k: int) -> None:
        """The gradient of slot ``k`` into the bucket, scaled by ``1 / world_size``."""
        view = bucket.views[k]
        grad = self._params[bucket.indices[k]]._grad
        if grad is None:
            view._data.fill(0)
        elif grad is view:
            view._data *= 1.0 / self._world_size
        else:
            np.multiply(grad._data, 1.0 / self._world_size, out=view._data, casting="unsafe")

    def _launch(self, bucket: _Bucket) -> None:
        if self._world_size > 1:
            bucket.work = _dist().all_reduce(bucket.tensor, group=self.process_group,
                                             async_op=True)

    def _finalize(self) -> None:
        self._expect_hooks = False
        used = self._local_used
        if used is not None and self._world_size > 1:
            _dist().all_reduce(make(used), group=self.process_group)
        for bucket in self._buckets:
            if bucket.work is not None:
                bucket.work.wait()
                bucket.work = None
            for index, view in zip(bucket.indices, bucket.views):
                if used is not None and not used[index]:
                    continue  # no rank used it: its .grad stays as it was (torch's rule)
                param = self._params[index]
                grad = param._grad
                if self.gradient_as_bucket_view:
                    if grad is not view:
                        param.grad = view
                elif grad is None:
                    param.grad = make(view._data.copy())
                else:
                    grad._data[...] = view._data
                    grad._vc[0] += 1

    @property
    def broadcast_buffers(self) -> bool:
        """Deprecated alias of ``forward_sync_buffers`` (as in torch)."""
        return self.forward_sync_buffers

    @broadcast_buffers.setter
    def broadcast_buffers(self, value: bool) -> None:
        self.forward_sync_buffers = value

    def train(self, mode: bool = True) -> DistributedDataParallel:
        super().train(mode)
        return self
