export { createLlmBudget } from './create-llm-budget.js'
export {
  resolveLlmBudgetOptions,
  type BudgetDefinition,
  type LlmBudgetOptions,
  type ModelPrice,
  type ResolvedLlmBudgetOptions,
} from './budget-options.js'
export type {
  BudgetEstimate,
  BudgetReservation,
  BudgetSettlement,
  BudgetState,
  BudgetUsage,
  LlmBudget,
  LlmBudgetStats,
} from './budget-types.js'
