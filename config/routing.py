"""Websocket routes of every app."""

from django.urls import path

from reviews.consumers import SentimentConsumer

websocket_urlpatterns: list = [
    path("ws/sentiment/", SentimentConsumer.as_asgi()),
]
