"""Every write of the training app: verbs, one transaction each, an audit entry for what
an agency or the CERT would ask about later.

Learners act without being platform users: their verbs take the signed-in `Learner` and
check that the row is theirs. An answer save is not audited (300 learners saving at once
would queue on the audit chain's head; the answer row itself records when it was saved
and its revision); starting and finishing an attempt are.
"""

from bulwark.training.services.common import (
    ANSWER_GRACE,
    LEARNER_COLUMNS,
    LINK_LIFETIME,
    MAX_IMPORT_ROWS,
    ROLE_ALIASES,
    ImportResult,
    TrainingError,
    csv_rows,
    secret_digest,
)
from bulwark.training.services.competitions import (
    CtfdImport,
    create_competition,
    import_ctfd_results,
    register_participant,
)
from bulwark.training.services.courses import (
    add_lesson,
    add_question,
    complete_enrolment,
    complete_lesson,
    create_course,
    enrol,
    enrol_by_hook,
    enrol_from_another_app,
    enrolment_of,
    missing_prerequisites,
    publish_course,
    question_item,
    set_exam,
)
from bulwark.training.services.exams import (
    Saved,
    close_expired_attempts,
    finish_attempt,
    save_answer,
    start_attempt,
)
from bulwark.training.services.learners import (
    add_learner,
    authenticate_learner,
    deactivate_learner,
    import_learners,
    issue_sign_in_link,
    redeem_sign_in_link,
    set_agency_level,
    set_own_password,
)
from bulwark.training.services.records import (
    RecordMapping,
    add_record,
    import_records,
    import_statements,
    send_reminders,
    xapi_statements,
)

__all__ = [
    "ANSWER_GRACE",
    "LEARNER_COLUMNS",
    "LINK_LIFETIME",
    "MAX_IMPORT_ROWS",
    "ROLE_ALIASES",
    "CtfdImport",
    "ImportResult",
    "RecordMapping",
    "Saved",
    "TrainingError",
    "add_learner",
    "add_lesson",
    "add_question",
    "add_record",
    "authenticate_learner",
    "close_expired_attempts",
    "complete_enrolment",
    "complete_lesson",
    "create_competition",
    "create_course",
    "csv_rows",
    "deactivate_learner",
    "enrol",
    "enrol_by_hook",
    "enrol_from_another_app",
    "enrolment_of",
    "finish_attempt",
    "import_ctfd_results",
    "import_learners",
    "import_records",
    "import_statements",
    "issue_sign_in_link",
    "missing_prerequisites",
    "publish_course",
    "question_item",
    "redeem_sign_in_link",
    "register_participant",
    "save_answer",
    "secret_digest",
    "send_reminders",
    "set_agency_level",
    "set_exam",
    "set_own_password",
    "start_attempt",
    "xapi_statements",
]
