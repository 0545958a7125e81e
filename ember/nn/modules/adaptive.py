"""Part of ``ember.nn.modules``: ``AdaptiveLogSoftmaxWithLoss``, the adaptive softmax of
Grave et al. (2016) for large vocabularies."""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

from ember._tensor import Tensor
from ember.nn._functional.activation import log_softmax
from ember.nn.modules.container import ModuleList, Sequential
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Mirrors ``torch.nn.AdaptiveLogSoftmaxWithLoss``.

    Classes below ``cutoffs[0]`` (the shortlist) are scored by the ``head`` Linear, which
    also has one output per cluster; cluster ``i`` (classes ``cutoffs[i]`` to
    ``cutoffs[i + 1]``) is scored by ``tail[i]``, a Linear down to
    ``in_features // div_value ** (i + 1)`` features and a Linear up to the cluster's
    size, its log-probabilities added to the head's log-probability of the cluster.

    Arguments: in_features, n_classes, cutoffs (increasing, each in [1, n_classes - 1]),
    div_value=4.0, head_bias=False, device, dtype. ``forward(input, target)`` returns
    ``_ASMoutput(output, loss)``: each row's target log-probability and the mean negative
    one. ``log_prob(input)`` gives every class's log-probability, ``predict(input)`` the
    most probable class."""

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        factory = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **factory)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **factory),
                                        Linear(hidden, size, bias=False, **factory)))

    def reset_parameters(self) -> None:
        """Re-initialise the head and every tail Linear, as torch does."""
        self.head.reset_parameters()
        for down, up in self.tail:
            down.reset_parameters()
            up.reset_parameters()

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:
        if target.dim() == 1:
            if input.dim() != 2 or input.size(0) != target.size(0):
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
        elif target.dim() == 0:
            if input.dim() != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input.size()}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target.dim() > 0
        if not batched:
            input = input.unsqueeze(0)
            target = target.unsqueeze(0)
        if ((target < 0) | (target >= self.n_classes)).any():
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{target.min().item()}, "
                               f"{target.max().item()}] were found. ")
        output = input.new_zeros(target.size(0))
        # the head's column for each row: its class in the shortlist, else its cluster's
        head_column = target.clone()
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            rows = ((target >= low) & (target < high)).nonzero().flatten()
            if rows.numel() == 0:
                continue
            head_column.index_fill_(0, rows, self.shortlist_size + i)
            cluster_logprob = log_softmax(self.tail[i](input.index_select(0, rows)), dim=1)
            relative = target.index_select(0, rows) - low
            output.index_copy_(0, rows, cluster_logprob.gather(1, relative.unsqueeze(1))
                               .squeeze(1))
        head_logprob = log_softmax(self.head(input), dim=1)
        output += head_logprob.gather(1, head_column.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        head_logprob = log_softmax(head_output, dim=1)
        out = input.new_empty((head_output.size(0), self.n_classes))
        out[:, :self.shortlist_size] = head_logprob[:, :self.shortlist_size]
        for i, cluster in enumerate(self.tail):
            start, stop = self.cutoffs[i], self.cutoffs[i + 1]
            cluster_logprob = log_softmax(cluster(input), dim=1)
            column = self.shortlist_size + i
            out[:, start:stop] = cluster_logprob + head_logprob[:, column:column + 1]
        return out

    def log_prob(self, input: Tensor) -> Tensor:
        """Every class's log-probability, (N, n_classes) for (N, in_features) input (a 1-d
        input raises, as torch's does)."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most probable class of each row of (N, in_features) input: the head's choice
        where it is a shortlist class (no cluster class can beat it: a cluster's classes
        share its head probability), else the argmax over every class."""
        head_output = self.head(input)
        choice = head_output.argmax(dim=1)
        in_cluster = choice >= self.shortlist_size
        if in_cluster.any():
            rows = in_cluster.nonzero().flatten()
            log_prob = self._full_log_prob(input.index_select(0, rows),
                                           head_output.index_select(0, rows))
            choice = choice.index_copy(0, rows, log_prob.argmax(dim=1))
        return choice
