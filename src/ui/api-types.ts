/**
 * What the UI reads from the API, typed as the API's own response schemas describe it
 * (`z.infer`), so a field renamed in a schema breaks the page at compile time instead of
 * rendering "undefined".
 */
import type { z } from '@hono/zod-openapi';
import type { AudienceForecastSchema, CampaignList } from '../campaigns/routes.js';
import type { CampaignSchema } from '../campaigns/schema.js';
import type { AttributeSchema } from '../customers/attribute-routes.js';
import type { ConsentHistory } from '../customers/consent-routes.js';
import type { CustomerPage } from '../customers/customer-routes.js';
import type { CustomerSchema } from '../customers/schema.js';
import type { TimelinePage } from '../customers/timeline-routes.js';
import type { EventTypeSchema, StoredEventSchema } from '../events/schema.js';
import type { ControlGroupSchema, WorkspaceSettingsSchema } from '../holdouts/routes.js';
import type { ImportPage, ImportPreviewSchema, ImportSchema } from '../imports/routes.js';
import type { JourneyList, ReportSchema as JourneyReportSchema } from '../journeys/routes.js';
import type { Definition, JourneySchema } from '../journeys/schema.js';
import type { MessagePage } from '../messages/routes.js';
import type { CodePool as CodePoolSchema } from '../offers/code-routes.js';
import type { DecisionResponse, OfferList, OfferSchema } from '../offers/schema.js';
import type { AuditPage as AuditPageSchema } from '../privacy/routes.js';
import type {
  ProductBuyers as ProductBuyersSchema,
  ProductRecommendedTo as ProductRecommendedToSchema,
} from '../products/customer-routes.js';
import type { RecommendationList } from '../products/recommend-routes.js';
import type { ProductDetail as ProductDetailSchema, ProductPage } from '../products/routes.js';
import type { PurchasePage } from '../purchases/routes.js';
import type { CampaignReportSchema, OfferReportSchema, TimeseriesSchema } from '../reports/routes.js';
import type {
  TriggerReportSchema,
  TriggersReportSchema,
  TriggerTimeseriesSchema,
} from '../reports/trigger-routes.js';
import type { PreviewSchema as SegmentPreviewSchema, SegmentSchema } from '../segments/routes.js';
import type { SenderList } from '../senders/routes.js';
import type { PartialList } from '../templates/partial-routes.js';
import type { DefaultsResult } from '../templates/routes.js';
import type { TemplateList, TemplateSchema, TestSendResult } from '../templates/schema.js';
import type { TriggerList } from '../triggers/routes.js';
import type {
  SettingsSchema,
  PreviewSchema as TriggerPreviewSchema,
  TriggerSchema,
} from '../triggers/schema.js';
import type {
  DeliverySchema,
  EndpointSchema,
  CreatedSchema as WebhookCreatedSchema,
} from '../webhooks/routes.js';

export type Campaign = z.infer<typeof CampaignSchema>;
export type CampaignPage = z.infer<typeof CampaignList>;
export type CampaignReport = z.infer<typeof CampaignReportSchema>;
export type Timeseries = z.infer<typeof TimeseriesSchema>;
export type TimeseriesPoint = Timeseries['data'][number];

export type Customer = z.infer<typeof CustomerSchema>;
export type Consents = z.infer<typeof ConsentHistory>;
export type Timeline = z.infer<typeof TimelinePage>;
export type Purchases = z.infer<typeof PurchasePage>;
export type Messages = z.infer<typeof MessagePage>;
export type Message = Messages['data'][number];
export type Decision = z.infer<typeof DecisionResponse>;

export type Import = z.infer<typeof ImportSchema>;
export type Imports = z.infer<typeof ImportPage>;
export type ImportPreview = z.infer<typeof ImportPreviewSchema>;

export type Offer = z.infer<typeof OfferSchema>;
export type Offers = z.infer<typeof OfferList>;
export type CodePool = z.infer<typeof CodePoolSchema>;

export type Products = z.infer<typeof ProductPage>;
export type Product = Products['data'][number];
export type ProductDetail = z.infer<typeof ProductDetailSchema>;
export type ProductBuyers = z.infer<typeof ProductBuyersSchema>;
export type ProductRecommendedTo = z.infer<typeof ProductRecommendedToSchema>;
export type Recommendations = z.infer<typeof RecommendationList>;

export type Segment = z.infer<typeof SegmentSchema>;
export interface Segments {
  data: Segment[];
  next_cursor: string | null;
}
export type SegmentPreview = z.infer<typeof SegmentPreviewSchema>;

export type Senders = z.infer<typeof SenderList>;
export type Sender = Senders['data'][number];
export type AudienceForecast = z.infer<typeof AudienceForecastSchema>;
export type Template = z.infer<typeof TemplateSchema>;
export type Templates = z.infer<typeof TemplateList>;
export type TemplateDefaults = z.infer<typeof DefaultsResult>;
export type TestSend = z.infer<typeof TestSendResult>;

export type Trigger = z.infer<typeof TriggerSchema>;
export type Triggers = z.infer<typeof TriggerList>;
export type TriggerSettings = z.infer<typeof SettingsSchema>;
export type TriggerPreview = z.infer<typeof TriggerPreviewSchema>;
export type TriggerReport = z.infer<typeof TriggerReportSchema>;
export type TriggersReport = z.infer<typeof TriggersReportSchema>;
export type TriggerTimeseries = z.infer<typeof TriggerTimeseriesSchema>;

export type Attribute = z.infer<typeof AttributeSchema>;
export interface Attributes {
  data: Attribute[];
}
export type Customers = z.infer<typeof CustomerPage>;
export type AuditPage = z.infer<typeof AuditPageSchema>;
export type OfferReport = z.infer<typeof OfferReportSchema>;
export type Partials = z.infer<typeof PartialList>;
export type WorkspaceSettings = z.infer<typeof WorkspaceSettingsSchema>;
export type ControlGroup = z.infer<typeof ControlGroupSchema>;

export type EventType = z.infer<typeof EventTypeSchema>;
export interface EventTypes {
  data: EventType[];
}
export type StoredEvent = z.infer<typeof StoredEventSchema>;
export interface StoredEvents {
  data: StoredEvent[];
  next_cursor: string | null;
}
export type Webhook = z.infer<typeof EndpointSchema>;
export type WebhookCreated = z.infer<typeof WebhookCreatedSchema>;
export interface Webhooks {
  data: Webhook[];
  next_cursor: string | null;
}
export type WebhookDelivery = z.infer<typeof DeliverySchema>;
export interface WebhookDeliveries {
  data: WebhookDelivery[];
  next_cursor: string | null;
}
export type JourneyListPage = z.infer<typeof JourneyList>;
/** A journey as the API answers it, its definition typed as the input schema describes it. */
export type Journey = Omit<z.infer<typeof JourneySchema>, 'steps' | 'entry' | 're_entry' | 'goal'> &
  Pick<Definition, 'entry' | 'steps'> & {
    re_entry: NonNullable<Definition['re_entry']>;
    goal: Definition['goal'];
  };
export type JourneyReportBody = z.infer<typeof JourneyReportSchema>;
