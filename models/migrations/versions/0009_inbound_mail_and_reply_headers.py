"""the mailbox read over IMAP: inbound_mail, and outbox_message.headers_json for threaded replies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 12:30:00

"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sender', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('period_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('source_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('file_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('held_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('folder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inbound_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_mail_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_mail_held'), ['held'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_mail_message_key'), ['message_key'], unique=True)
        batch_op.create_index(batch_op.f('ix_inbound_mail_outcome'), ['outcome'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('headers_json')

    with op.batch_alter_table('inbound_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_mail_outcome'))
        batch_op.drop_index(batch_op.f('ix_inbound_mail_message_key'))
        batch_op.drop_index(batch_op.f('ix_inbound_mail_held'))
        batch_op.drop_index(batch_op.f('ix_inbound_mail_campaign_id'))

    op.drop_table('inbound_mail')
