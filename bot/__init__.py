"""talklike's bot: vocabulary, seq2seq model, training, decoding, evaluation, chat and serve.

The Python API: ``load_bot(who, data)`` and the conversation it opens (see ``bot.chat``)::

    from bot import load_bot
    talk = load_bot("Kim", data="data").conversation()
    talk.reply("are you coming tonight?")   # ['yeah!!', 'what time']
"""

__all__ = ["Conversation", "load_bot"]


def __getattr__(name: str):  # lazy: importing ``bot`` must not import Keras
    if name in __all__:
        from bot import chat

        return getattr(chat, name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
