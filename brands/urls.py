from django.urls import path

from brands import views

app_name = "brands"

urlpatterns = [
    path("", views.home, name="home"),
    path("brands/<slug:slug>/logo.svg", views.logo, name="logo"),
    path("brands/<slug:slug>/", views.logo, name="detail"),
]
