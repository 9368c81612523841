"""Notification channels crews and engineers read: WeCom, DingTalk and Feishu/Lark group robots, an SMS
HTTP gateway and e-mail. Each adapter builds its request from a :class:`~maintenance.channels.base.Note`
(pure, ``now`` passed in); :func:`maintenance.channels.send.send` checks the destination and sends it."""
