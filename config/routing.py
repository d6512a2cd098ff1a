"""Websocket routes of every app."""

from ml.routing import websocket_urlpatterns as ml_websocket_urlpatterns

websocket_urlpatterns: list = [*ml_websocket_urlpatterns]
