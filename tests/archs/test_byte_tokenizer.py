"""The byte-level CLIP tokenizer of the tiny and random pipelines tokenizes the text."""

from zoomwatt.archs.tiny import byte_clip_tokenizer


def test_prompts_tokenize_to_their_bytes():
    tok = byte_clip_tokenizer()
    assert len(tok) == 514  # 2 x 256 byte symbols (alone, word end) + 2 special tokens
    ids = tok("ab", padding="max_length", max_length=77).input_ids
    empty = tok("", padding="max_length", max_length=77).input_ids
    assert len(ids) == len(empty) == 77
    # <|startoftext|>, "a", "b</w>", <|endoftext|>; ids: a = 64, b</w> = 256 + 65 = 321
    assert ids[:4] == [512, 64, 321, 513]
    assert ids != empty  # a prompt is not the empty prompt (guidance needs the difference)
