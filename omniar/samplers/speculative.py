"""The speculative-sampling acceptance rule (Leviathan et al. 2023; Chen et al. 2023), batched.

A draft token `x` drawn from a distribution `q` is accepted with probability
`min(1, p(x) / q(x))`; when it is rejected, a replacement is drawn from the residual
`normalise(max(0, p - q))`. Whatever `q` is, the token that comes out is distributed exactly as
`p`:

    P(out = y) = q(y) min(1, p(y)/q(y)) + (1 - sum_x min(p(x), q(x))) * max(0, p(y) - q(y)) / Z
               = min(p(y), q(y)) + max(0, p(y) - q(y)) = p(y),

because `Z = sum_y max(0, p(y) - q(y)) = 1 - sum_x min(p(x), q(x))`. The only requirement is
that `x` really was drawn from `q` (a point mass for deterministic drafts, uniform for random
ones, the model's earlier distribution for Jacobi refinements).

Everything works over the last dimension (the vocabulary) with any leading shape; each leading
index is an independent variable (a token, or one codebook of a token). Greedy decoding is the
special case of one-hot `p`: the draft is accepted exactly when it is the argmax, and the
residual is the one-hot argmax otherwise.
"""

from __future__ import annotations

import torch

from omniar.samplers.processors import sample_from_probabilities


def acceptance_probability(p: torch.Tensor, q: torch.Tensor, draft: torch.Tensor) -> torch.Tensor:
    """`min(1, p(x) / q(x))` for each draft `x`; 0 where `q(x) = 0` (x cannot come from q)."""
    index = draft.long().unsqueeze(-1)
    p_x = p.gather(-1, index).squeeze(-1)
    q_x = q.gather(-1, index).squeeze(-1)
    ratio = torch.where(q_x > 0, p_x / q_x.clamp_min(torch.finfo(q_x.dtype).tiny), 0.0)
    return ratio.clamp(max=1.0)


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """`normalise(max(0, p - q))`; falls back to `p` where the residual has no mass.

    The fallback only matters when `p == q` (up to rounding), where a rejection has
    probability ~0 and any choice keeps the output distribution `p`.
    """
    residual = (p - q).clamp_min(0.0)
    total = residual.sum(-1, keepdim=True)
    return torch.where(total > 0, residual / total.clamp_min(torch.finfo(total.dtype).tiny), p)


def speculative_accept(
    p: torch.Tensor,
    q: torch.Tensor,
    draft: torch.Tensor,
    generator: torch.Generator | None = None,
    drafted: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Verify drafts against the target distribution.

    Args:
        p: (..., V) target probabilities (after the full logits-processing chain).
        q: (..., V) the distributions the drafts were drawn from.
        draft: (...) draft token ids.
        generator: the random source for the acceptance test and the replacements.
        drafted: optional (...) bool, False where there is no draft: those variables are never
            accepted and their replacement is drawn from `p` itself.

    Returns:
        `(accepted, tokens)`: bool (...) whether each draft was accepted, and (...) the output
        token of each variable: the draft where accepted, a draw from the residual elsewhere.
        Every output token is distributed as `p`.
    """
    if p.shape != q.shape or p.shape[:-1] != draft.shape:
        raise ValueError(
            f"p and q must have the same shape (..., V) and draft the leading shape; got p "
            f"{tuple(p.shape)}, q {tuple(q.shape)}, draft {tuple(draft.shape)}"
        )
    if drafted is not None:
        q = torch.where(drafted.unsqueeze(-1), q, torch.zeros_like(q))
    threshold = acceptance_probability(p, q, draft)
    uniform = torch.rand(threshold.shape, generator=generator, device=threshold.device)
    accepted = uniform < threshold
    if drafted is not None:
        accepted &= drafted
    replacement = sample_from_probabilities(residual_distribution(p, q), generator)
    return accepted, torch.where(accepted, draft.long(), replacement)
