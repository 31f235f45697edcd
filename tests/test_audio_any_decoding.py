"""The audio layout rules as a token constraint: every decoding keeps clips well formed.

Greedy Jacobi decoding gives the tokens of greedy sequential decoding (the end-of-clip mask of
each proposed slot follows its prefix, and a clip stops once its frames are all final); sampled
Jacobi clips obey the rules. With these seeds the tiny random model ends some greedy clips
early and runs others to the cap, so both ways a clip stops are covered.
"""

from __future__ import annotations

import pytest
import torch
from test_audio_pipeline import tiny_pipeline

from omniar.pipelines.audio import AudioPipeline
from omniar.pipelines.audio_tokens import AudioConstraint, AudioStop, AudioTokenRules
from omniar.samplers.stopping import StopCondition

PROMPTS = [str(digit) for digit in range(10)]
SPEAKERS = ["ann", "bob"] * 5


def seeded_pipeline(pattern: str, num_codebooks: int) -> AudioPipeline:
    torch.manual_seed(1)
    return tiny_pipeline(pattern, num_codebooks)


def generate(pipe: AudioPipeline, **kwargs) -> tuple[torch.Tensor, object]:
    """The pipeline's output and the token rows it decoded (before they are cut into clips)."""
    seen = []

    def record(tokens, order):
        seen.append((tokens, order))
        return AudioPipeline.decode_clips(pipe, tokens, order)

    pipe.decode_clips = record
    out = pipe(PROMPTS, speaker=SPEAKERS, **kwargs)
    return out, seen[0]


def assert_follows_rules(tokens: torch.Tensor, pipe: AudioPipeline, order, frames: int) -> None:
    """Every token up to the end of its clip is one the rules allow given the tokens before."""
    rules = AudioTokenRules(order, pipe.vocabulary, frames)
    walker = AudioConstraint(rules, tokens.shape[0], tokens.device)
    for position in range(order.num_tokens):
        live = ~walker.finished()
        token = tokens[:, position]
        allowed = walker.allowed().gather(-1, token.unsqueeze(-1)).squeeze(-1)
        if allowed.ndim > 1:
            allowed = allowed.all(-1)
        assert bool(allowed[live].all()), f"disallowed token at position {position}"
        walker.advance(token)
    assert bool(walker.finished().all())


@pytest.mark.parametrize("pattern,num_codebooks", [("delay", 3), ("flatten", 2)])
@pytest.mark.parametrize("guidance_scale", [1.0, 2.0])
def test_greedy_jacobi_gives_the_sequential_tokens(pattern, num_codebooks, guidance_scale) -> None:
    pipe = seeded_pipeline(pattern, num_codebooks)
    settings = {"temperature": 0.0, "guidance_scale": guidance_scale, "batch_size": 4}
    sequential, (expected, order) = generate(pipe, **settings)
    lengths = [codes.shape[1] for codes in sequential.codes]
    assert min(lengths) < 20 and max(lengths) == 20, lengths
    for options in ({"window": 4}, {"window": 8, "init": "left"}):
        jacobi, (tokens, _) = generate(pipe, decoding="jacobi", decoding_options=options, **settings)
        assert torch.equal(tokens, expected)
        assert all(torch.equal(a, b) for a, b in zip(jacobi.codes, sequential.codes))
        assert jacobi.stats["forward_passes"] < sequential.stats["forward_passes"] * 2
    assert_follows_rules(expected, pipe, order, frames=20)


@pytest.mark.parametrize("pattern,num_codebooks", [("delay", 2), ("flatten", 2)])
def test_sampled_jacobi_clips_follow_the_rules(pattern, num_codebooks) -> None:
    pipe = seeded_pipeline(pattern, num_codebooks)
    out, (tokens, order) = generate(
        pipe, decoding="jacobi", decoding_options={"window": 6}, generator=torch.manual_seed(0),
        temperature=1.0, top_k=0, duration_s=0.05,
    )
    assert_follows_rules(tokens, pipe, order, frames=10)
    for codes in out.codes:
        assert 1 <= codes.shape[1] <= 10 and int(codes.max()) < pipe.codec.codebook_size
    assert out.stats["decoding"] == "jacobi"


def test_stop_ends_a_clip_only_once_every_codebook_has_its_frames() -> None:
    """Delay pattern, 3 codebooks: codebook 0's end at slot 4 completes it at slot 5
    (codebook 2 has frame 3 there), not before."""
    pipe = tiny_pipeline("delay", 3)
    rules = AudioTokenRules(pipe.order_for(8), pipe.vocabulary, 7)
    stop = AudioStop(1, rules, torch.device("cpu"))
    assert isinstance(stop, StopCondition)
    eos, code = pipe.vocabulary.eos_token_id, 0
    for slot in range(7):
        new = torch.tensor([[[eos if slot == 4 else code, code, code]]])
        stop.update(new)
        assert bool(stop.done[0]) == (slot >= 5), slot


def test_generate_audio_cli_decodes_with_jacobi(tmp_path, capsys) -> None:
    """`omniar generate audio --decoding jacobi --window 4` writes the clip and names the decoder;
    zipar, which cannot stop clips by the layout rules, is refused by argparse (exit 2)."""
    import soundfile as sf

    from omniar.cli import main

    out = tmp_path / "seven.wav"
    assert main(["generate", "audio", "seven", "--decoding", "jacobi", "--window", "4",
                 "--out", str(out), "--device", "cpu"]) == 0
    data, rate = sf.read(out)
    assert rate == 8000 and len(data) > 0
    assert "decoding jacobi (window 4" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["generate", "audio", "seven", "--decoding", "zipar", "--out", str(out)])
    assert refused.value.code == 2
