"""Tiny random diffusers text-to-audio pipelines, built from configs with no download.

Real pipeline classes with a few hundred weights each, so the diffusers adapter runs its true
call path (tokenizers, text encoders, denoiser, decoder, vocoder) on CPU in a fraction of a
second. The audio is noise; only shapes, rates and determinism mean anything. Both pipelines run
at a low sample rate (64 Hz) so a second of audio is a handful of latent frames.
"""

from __future__ import annotations

from typing import Any

TINY_RATE = 64
"""Sample rate of both tiny pipelines (the Oobleck VAE's rate, the HiFi-GAN vocoder's rate)."""

_WORDS = (
    "a the of and on in rain wind dog bark car engine music hammer wood soft loud birds "
    "door crowd fire water steps"
).split()
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _t5_tokenizer(max_length: int = 16) -> Any:
    """A Unigram T5 tokenizer over a few whole words plus single letters (never unknown)."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + word, -1.0 - i / 100) for i, word in enumerate(_WORDS)]
    pieces += [("\u2581", -20.0)] + [(letter, -30.0) for letter in _LETTERS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=max_length)


def _roberta_tokenizer(max_length: int = 16) -> Any:
    """A byte-level BPE (RoBERTa) tokenizer with letters only and no merges: one token a byte."""
    from transformers import RobertaTokenizer

    vocab = {token: i for i, token in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])}
    for symbol in _LETTERS + "\u0120":  # \u0120 is the byte-level form of a space
        vocab[symbol] = len(vocab)
    return RobertaTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def _ready(pipe: Any) -> Any:
    """Evaluation mode (fresh modules train, so dropout would make seeds meaningless), quiet."""
    for component in pipe.components.values():
        if hasattr(component, "eval"):
            component.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_stable_audio() -> Any:
    """A ``StableAudioPipeline``: 2-channel Oobleck VAE at 64 Hz, hop 4, 32 latent frames (2 s)."""
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = _t5_tokenizer()
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=16, d_ff=24, d_kv=8, num_heads=2,
                 num_layers=1, decoder_start_token_id=0)
    )
    transformer = StableAudioDiTModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=2,
        num_key_value_attention_heads=1,
        cross_attention_dim=16,
        cross_attention_input_dim=8,
        global_states_input_dim=16,
        time_proj_dim=8,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=4,
        downsampling_ratios=[2, 2],
        channel_multiples=[1, 2],
        decoder_channels=4,
        decoder_input_channels=4,
        audio_channels=2,
        sampling_rate=TINY_RATE,
    )
    projection = StableAudioProjectionModel(
        text_encoder_dim=16, conditioning_dim=8, min_value=0, max_value=8
    )
    scheduler = CosineDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0,
        sigma_schedule="exponential",
    )
    pipe = StableAudioPipeline(
        vae=vae, text_encoder=text_encoder, projection_model=projection, tokenizer=tokenizer,
        transformer=transformer, scheduler=scheduler,
    )
    return _ready(pipe)


def tiny_audioldm2() -> Any:
    """An ``AudioLDM2Pipeline``: mono HiFi-GAN vocoder at 64 Hz (4 samples a mel frame)."""
    import torch
    from diffusers import (
        AudioLDM2Pipeline,
        AudioLDM2ProjectionModel,
        AudioLDM2UNet2DConditionModel,
        AutoencoderKL,
        DDIMScheduler,
    )
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        GPT2Config,
        GPT2LMHeadModel,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    tokenizer = _roberta_tokenizer()
    tokenizer_2 = _t5_tokenizer()
    clap_dim, t5_dim, gpt_dim = 8, 16, 8
    torch.manual_seed(0)
    clap = ClapModel(
        ClapConfig(
            text_config={
                "vocab_size": len(tokenizer), "hidden_size": 8, "intermediate_size": 16,
                "num_attention_heads": 2, "num_hidden_layers": 1,
                "max_position_embeddings": 40, "pad_token_id": 1, "bos_token_id": 0,
                "eos_token_id": 2,
            },
            # The audio tower only ranks several waveforms per prompt, which LVAS never asks.
            audio_config={
                "spec_size": 16, "window_size": 2, "num_mel_bins": 16, "hidden_size": 16,
                "depths": [1, 1], "num_attention_heads": [1, 1], "num_hidden_layers": 1,
                "patch_size": 2, "patch_stride": 2, "patch_embed_input_channels": 4,
                "intermediate_size": 16,
            },
            projection_dim=clap_dim,
        )
    )
    text_encoder_2 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=t5_dim, d_ff=24, d_kv=8, num_heads=2,
                 num_layers=1, decoder_start_token_id=0)
    )
    language_model = GPT2LMHeadModel(
        GPT2Config(n_embd=gpt_dim, n_head=2, n_layer=1, vocab_size=8, n_positions=32,
                   bos_token_id=0, eos_token_id=0)
    )
    language_model.config.max_new_tokens = 4
    projection = AudioLDM2ProjectionModel(
        text_encoder_dim=clap_dim, text_encoder_1_dim=t5_dim, langauge_model_dim=gpt_dim
    )
    unet = AudioLDM2UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        attention_head_dim=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, gpt_dim, t5_dim], [None, gpt_dim, t5_dim]),
    )
    vae = AutoencoderKL(
        in_channels=1,
        out_channels=1,
        latent_channels=4,
        block_out_channels=[4, 8],
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
    )
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=8, sampling_rate=TINY_RATE, upsample_initial_channel=8,
            upsample_rates=[2, 2], upsample_kernel_sizes=[4, 4], resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3]], normalize_before=False, initializer_range=0.1,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False,
    )
    pipe = AudioLDM2Pipeline(
        vae=vae, text_encoder=clap, text_encoder_2=text_encoder_2, projection_model=projection,
        language_model=language_model, tokenizer=tokenizer, tokenizer_2=tokenizer_2,
        feature_extractor=ClapFeatureExtractor(), unet=unet, scheduler=scheduler,
        vocoder=vocoder,
    )
    return _ready(pipe)
