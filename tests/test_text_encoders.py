"""Hugging Face text encoders plug into the image pipeline (tiny random models, nothing downloaded)."""

import pytest
import torch

transformers = pytest.importorskip("transformers")

from omniar.models.ar_model import AutoregressiveModel  # noqa: E402
from omniar.models.text_encoders import encode_prompts, load_text_encoder, text_hidden_size  # noqa: E402
from omniar.pipelines.image import ImagePipeline  # noqa: E402
from omniar.tokenizers.image_vq import ImageVQTokenizer  # noqa: E402

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "red", "apple", "cat", "green", "face"]


def save_tiny_encoder(folder, kind):
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    if kind == "clip":
        config = transformers.CLIPTextConfig(vocab_size=len(WORDS), hidden_size=16, intermediate_size=32,
                                             num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16)
        model = transformers.CLIPTextModel(config)
    else:
        config = transformers.T5Config(vocab_size=len(WORDS), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                                       num_heads=2)
        model = transformers.T5EncoderModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["clip", "t5"])
def test_hf_encoder_states_and_padding_mask(tmp_path, kind):
    encoder, tokenizer = load_text_encoder(str(save_tiny_encoder(tmp_path, kind)))
    assert text_hidden_size(encoder) == 16
    states, mask = encode_prompts(encoder, tokenizer, ["a red apple", "cat"])
    assert states.shape[0] == 2 and states.shape[-1] == 16
    assert mask.dtype == torch.bool and mask[0].sum() > mask[1].sum()
    with pytest.raises(ValueError, match="non-empty"):
        encode_prompts(encoder, tokenizer, [" "])


def test_pipeline_with_a_hf_encoder_saves_and_loads(tmp_path):
    (tmp_path / "enc").mkdir()
    encoder, text_tokenizer = load_text_encoder(str(save_tiny_encoder(tmp_path / "enc", "clip")))
    tokenizer = ImageVQTokenizer(downsample_factor=4, block_out_channels=(16, 16, 16), norm_num_groups=8,
                                 fsq_levels=(4, 4)).eval()
    transformer = AutoregressiveModel(vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=2,
                                      rope_axes=2, condition="text", text_dim=text_hidden_size(encoder)).eval()
    pipe = ImagePipeline(transformer=transformer, tokenizer=tokenizer, text_encoder=encoder,
                         text_tokenizer=text_tokenizer, image_size=16)
    first = pipe("a red apple", generator=torch.Generator().manual_seed(0), output_type="tokens").images
    pipe.save_pretrained(tmp_path / "pipe")
    loaded = ImagePipeline.from_pretrained(tmp_path / "pipe")
    assert isinstance(loaded.text_encoder, transformers.CLIPTextModel)
    again = loaded("a red apple", generator=torch.Generator().manual_seed(0), output_type="tokens").images
    assert torch.equal(first, again)
