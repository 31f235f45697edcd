"""Token constraints work with every decoding: sequential and Jacobi give valid sequences, equal
greedy tokens and equal intervention figures; zipar refuses them with a clear message."""

import pytest
import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.orders import RasterOrder
from omniar.samplers.condition import Condition
from omniar.samplers.constraints import ConstraintProcessor
from omniar.samplers.decode import decode_sequential
from omniar.samplers.guidance import GuidanceSchedule
from omniar.samplers.jacobi import decode_jacobi
from omniar.samplers.processors import SamplingConfig
from omniar.samplers.zipar import decode_zipar

VOCAB = 7
END = VOCAB - 1
GREEDY = SamplingConfig(temperature=0)


class StepUp:
    """Each token is 1-3 above the previous one (mod VOCAB, never 0 after the first); END ends
    the sequence and is the only token after it."""

    def __init__(self, batch: int, device: torch.device):
        self.previous = torch.full((batch,), -1, dtype=torch.long, device=device)

    def advance(self, tokens: torch.Tensor) -> None:
        self.previous = torch.where(self.previous == END, END, tokens)

    def allowed(self) -> torch.Tensor:
        ids = torch.arange(VOCAB)
        gap = (ids[None] - self.previous[:, None]) % VOCAB
        mask = (gap >= 1) & (gap <= 3) & (ids[None] != 0)
        mask[self.previous < 0] = ids != END
        mask[self.previous == END] = ids == END
        return mask

    def finished(self) -> torch.Tensor:
        return self.previous == END


def valid(sequence: list[int]) -> bool:
    check = StepUp(1, torch.device("cpu"))
    for token in sequence:
        if not check.allowed()[0, token]:
            return False
        check.advance(torch.tensor([token]))
    return True


def model(sharpen: float = 1.0) -> AutoregressiveModel:
    torch.manual_seed(0)
    net = AutoregressiveModel(vocab_size=VOCAB, hidden_size=32, num_layers=2, num_heads=4,
                              rope_axes=1, class_sizes=[3]).eval()
    with torch.no_grad():
        net.head.weight.mul_(sharpen)
        net.token_embed.weight.mul_(sharpen)
    return net


CONDITION = Condition(3, class_labels=torch.tensor([0, 1, 2]))
ORDER = RasterOrder(12)


@pytest.mark.parametrize("guidance", [GuidanceSchedule(), GuidanceSchedule(3.0, "linear")],
                         ids=["plain", "cfg"])
@pytest.mark.parametrize("sharpen", [1.0, 30.0])
def test_greedy_jacobi_with_a_constraint_equals_greedy_sequential(guidance, sharpen):
    net = model(sharpen)
    sequential = ConstraintProcessor(StepUp)
    expected, _ = decode_sequential(net, ORDER, CONDITION, GREEDY, guidance, constraint=sequential)
    assert all(valid(row) for row in expected.tolist())
    assert sequential.overrides.sum() > 0  # the constraint changed the model's choices
    for init, window in [("random", 3), ("left", 16), ("left", 1)]:
        parallel = ConstraintProcessor(StepUp)
        tokens, stats = decode_jacobi(net, ORDER, CONDITION, GREEDY, guidance, window=window,
                                      init=init, generator=torch.Generator().manual_seed(1),
                                      constraint=parallel)
        assert torch.equal(tokens, expected), (init, window)
        assert torch.equal(parallel.overrides, sequential.overrides)
        torch.testing.assert_close(parallel.masked_mass, sequential.masked_mass, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("decoder,options", [(decode_sequential, {}),
                                             (decode_jacobi, {"window": 4}),
                                             (decode_jacobi, {"window": 8, "init": "left"})])
def test_sampled_sequences_obey_the_constraint(decoder, options):
    condition = Condition(16, class_labels=torch.arange(16) % 3)
    processor = ConstraintProcessor(StepUp)
    tokens, _ = decoder(model(), ORDER, condition, SamplingConfig(), GuidanceSchedule(2.0),
                        generator=torch.Generator().manual_seed(0), constraint=processor,
                        **options)
    assert all(valid(row) for row in tokens.tolist())
    assert len(processor.constraints) == 1 and processor.masked_mass.shape == (16,)


def test_zipar_refuses_a_constraint():
    with pytest.raises(ValueError, match="zipar.*constraint"):
        decode_zipar(model(), RasterOrder((3, 4)), CONDITION, constraint=ConstraintProcessor(StepUp))
