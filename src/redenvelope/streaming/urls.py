from django.urls import path

from . import views

urlpatterns = [
    path("watch/", views.watching, name="watching"),
    path("watch/<int:title_id>/", views.watch, name="watch"),
    path("watch/<int:title_id>/start/", views.start, name="watch_start"),
    path("watch/lease/<str:lease_id>/beat/", views.beat, name="watch_beat"),
    path("watch/lease/<str:lease_id>/stop/", views.stop, name="watch_stop"),
    path("stream/<str:token>/<path:path>", views.media, name="stream_media"),
    path("account/devices/", views.devices, name="devices"),
    path("operations/streaming/", views.staff_streaming, name="staff_streaming"),
]
