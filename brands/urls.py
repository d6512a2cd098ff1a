from django.urls import path

from brands import views

app_name = "brands"

urlpatterns = [
    path("<slug:slug>/logo.svg", views.logo, name="logo"),
    path("<slug:slug>/", views.logo, name="detail"),
]
