from django.urls import path

from bulwark.training import views

urlpatterns = [
    path("training/", views.course_list, name="training-courses"),
    path("training/courses/<slug:code>/", views.course_detail, name="training-course"),
    path("training/courses/<slug:code>/statistics/", views.item_statistics,
         name="training-item-statistics"),
    path("training/learners/", views.learner_list, name="training-learners"),
    path("training/learners/<int:pk>/link/", views.learner_link, name="training-learner-link"),
    path("training/compliance/", views.compliance, name="training-compliance"),
    path("training/certificates/<str:code>/", views.certificate_verify,
         name="training-certificate-verify"),
    path("training/learn/", views.learner_home, name="training-learn"),
    path("training/learn/sign-in/", views.learner_sign_in, name="training-learn-sign-in"),
    path("training/learn/sign-out/", views.learner_sign_out, name="training-learn-sign-out"),
    path("training/learn/link/<str:secret>/", views.learner_link_sign_in,
         name="training-learn-link"),
    path("training/learn/courses/<slug:code>/", views.learner_course,
         name="training-learn-course"),
    path("training/learn/courses/<slug:code>/exam/", views.learner_start_exam,
         name="training-learn-start-exam"),
    path("training/learn/lessons/<int:pk>/", views.learner_lesson, name="training-learn-lesson"),
    path("training/learn/attempts/<int:pk>/", views.learner_attempt,
         name="training-learn-attempt"),
    path("training/learn/attempts/<int:pk>/answer/", views.learner_save_answer,
         name="training-learn-answer"),
    path("training/learn/certificates/<str:code>.pdf", views.learner_certificate,
         name="training-learn-certificate"),
]  # fmt: skip
