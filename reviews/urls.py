from django.urls import path

from brands import views as brand_views

app_name = "reviews"

urlpatterns = [
    path("", brand_views.home, name="home"),
]
