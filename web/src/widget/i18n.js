// The widget's own texts, in Chinese and English: the browser's language unless the page says.
const TEXTS = {
  title: ["Customer service", "在线客服"],
  open: ["Chat with us", "联系客服"],
  close: ["Close", "关闭"],
  placeholder: ["Write a message…", "请输入消息…"],
  send: ["Send", "发送"],
  connecting: ["Connecting…", "正在连接…"],
  unreachable: ["The service cannot be reached right now. We keep trying…", "暂时无法连接客服，正在重试…"],
  reconnecting: ["Connection lost, reconnecting…", "连接已断开，正在重新连接…"],
  closedHours: ["We are closed now. Leave a message and we will answer when we open.",
    "现在是非工作时间。您可以留言，我们上班后会尽快回复。"],
  closedQueue: ["The service is closed now.", "客服暂不接待。"],
  position: ["Your place in the queue: {n}", "您前面还有 {n} 位"],
  positionWait: ["Your place in the queue: {n} (about {m} min)", "您前面还有 {n} 位（预计等待约 {m} 分钟）"],
  typing: ["typing…", "正在输入…"],
  agent: ["Agent", "客服"],
  bot: ["Assistant", "智能助手"],
  you: ["You", "我"],
  delivered: ["delivered", "已送达"],
  read: ["read", "已读"],
  failed: ["not delivered", "未送达"],
  history: ["Earlier in this conversation", "之前的对话"],
  ended: ["This conversation has ended.", "本次会话已结束。"],
  newChat: ["New conversation", "开始新会话"],
  submit: ["Send", "提交"],
  required: ["Please fill in: {f}", "请填写：{f}"],
  invalid: ["Please check: {f}", "请检查：{f}"],
  rate: ["Send rating", "提交评价"],
  thanks: ["Thank you for your rating!", "感谢您的评价！"],
  comment: ["Comment (optional)", "意见（可选）"],
  error: ["Not delivered: {t}", "发送失败：{t}"],
  tooFast: ["You are writing too fast; please wait a moment.", "发送太快了，请稍等片刻。"],
};

export function pickLang(attr) {
  const wanted = (attr || navigator.language || "en").toLowerCase();
  return wanted.startsWith("zh") ? "zh" : "en";
}

export function t(lang, key, params = {}) {
  const pair = TEXTS[key] || [key, key];
  let s = pair[lang === "zh" ? 1 : 0];
  for (const [k, v] of Object.entries(params)) s = s.replace(`{${k}}`, String(v));
  return s;
}
