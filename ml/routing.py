"""Websocket routes of live scoring (the path `/ws/sentiment/` is fixed)."""

from django.urls import path

from ml.consumers import SentimentConsumer

websocket_urlpatterns: list = [
    path("ws/sentiment/", SentimentConsumer.as_asgi()),
]
