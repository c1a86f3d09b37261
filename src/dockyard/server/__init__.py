"""The composition root: builds the store, the services, the controllers and the web app, and owns the
server's background work (maintenance, controller loops). Nothing below imports it; ``cli`` starts it.

```
open_runtime(settings)  → Runtime (settings, migrated store, root key)
build_server(runtime)   → Server: providers behind the AWS gateway, the registry, the agents' channel,
                          the change feed and the controller runner; .app is the ASGI app whose lifespan
                          starts the channel, the controllers and the maintenance loop, and stops them
```
"""
