"""``talklike serve``: the web chat page, the JSON and OpenAI-compatible APIs, and the messenger bridges.

    from bot.serve.core import Settings
    from bot.serve.app import create_app
    app = create_app(Settings(data="data", person="me"))   # an ASGI app: run it with uvicorn

``bot.serve.run.serve(settings)`` is what the CLI calls: it checks the settings, loads the bot, binds the port
and runs uvicorn with the limits of :class:`bot.serve.core.Settings`.
"""
